//! The kinds of personal information the scanner reports, with their stable names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A kind of personal information. The `as_str` names are a stable contract (`encore scan --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// PRC resident identity card number (GB 11643), 18 characters.
    CnResidentId,
    /// PRC mobile phone number, 11 digits.
    CnMobile,
    /// Payment card number (Luhn-valid, known issuer, 16 to 19 digits).
    BankCard,
    /// E-mail address.
    Email,
    /// Unified social credit code of a PRC organisation (GB 32100), 18 characters.
    CnUscc,
    /// PRC passport number.
    Passport,
    /// IPv4 or IPv6 address (one kind for both: `:` in the value means IPv6).
    IpAddress,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 7] = [
        Kind::CnResidentId,
        Kind::CnMobile,
        Kind::BankCard,
        Kind::Email,
        Kind::CnUscc,
        Kind::Passport,
        Kind::IpAddress,
    ];

    /// The stable name used in JSON output and labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CnResidentId => "cn_resident_id",
            Kind::CnMobile => "cn_mobile",
            Kind::BankCard => "bank_card",
            Kind::Email => "email",
            Kind::CnUscc => "cn_uscc",
            Kind::Passport => "passport",
            Kind::IpAddress => "ip_address",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert!("ipv6".parse::<Kind>().is_err());
    }
}
