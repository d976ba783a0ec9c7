//! `encore-compliance`: finds personal information in bytes, exactly and fast.
//!
//! A [`Scanner`] walks a buffer once. Digits (ASCII or full-width), `@` and `:` start small local
//! parsers; every candidate is *validated* before it counts (GB 11643 check digit, birth date and
//! region for resident IDs, GB 32100 check character for social credit codes, Luhn and issuer
//! ranges for bank cards, allocated segments for mobiles, strict syntax for e-mail and IP
//! addresses), then *scored* with its context (keywords such as 身份证, 手机, card raise the
//! score; order ids, timestamps, durations and versions lower it). A [`Finding`] carries the byte
//! offset, length, [`Kind`] and score; [`mask`] and [`mask_value`] hide values while keeping their
//! format, and [`MaskingWriter`] does the same for `tracing` output. [`corpus`] generates a
//! labelled benchmark corpus and [`eval`] scores predictions against its labels.
//!
//! ```
//! use encore_compliance::{Kind, ScanConfig, Scanner, mask};
//!
//! let scanner = Scanner::new(ScanConfig::default())?;
//! let text = "客户张三，身份证11010519491231002X，手机 138-1234-5678，订单号 202311051234567890".as_bytes();
//! let found = scanner.scan(text)?;
//! let kinds: Vec<Kind> = found.iter().map(|f| f.kind).collect();
//! assert_eq!(kinds, [Kind::CnResidentId, Kind::CnMobile]);
//! let masked = String::from_utf8(mask(text, &found)).unwrap();
//! assert!(masked.contains("110***********002X") && masked.contains("138-****-5678"));
//! # Ok::<(), encore_compliance::Error>(())
//! ```

mod context;
pub mod corpus;
mod error;
pub mod eval;
mod kind;
mod mask;
mod regions;
mod scanner;
pub mod validate;
mod writer;

pub use error::Error;
pub use kind::Kind;
pub use mask::{mask, mask_value};
pub use scanner::{Finding, ScanConfig, Scanner};
pub use writer::{MaskedWrite, MaskingWriter};
