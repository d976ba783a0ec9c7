//! Labelled benchmark corpus generator.
