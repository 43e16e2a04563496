//! Money: `rust_decimal` in memory, integer minor units plus an ISO 4217
//! code in the database and on the wire. Never floats. Rounding to minor
//! units is always explicit and `MidpointAwayFromZero` (the `round_dp`
//! default would be banker's rounding).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code with its number of minor-unit digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Why a currency code was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("unknown currency {0:?}: expected an ISO 4217 code such as EUR, USD, GBP, JPY")]
    UnknownCurrency(String),
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount {0} does not fit in minor units")]
    Overflow(Decimal),
    #[error("invalid amount {0:?}")]
    InvalidAmount(String),
}

/// The currencies we accept, with their minor-unit exponents (ISO 4217).
const KNOWN: &[(&str, u8)] = &[
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("SGD", 2),
    ("HKD", 2),
    ("INR", 2),
    ("CNY", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("ZAR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("ISK", 0),
    ("CLP", 0),
    ("KWD", 3),
    ("BHD", 3),
    ("JOD", 3),
    ("TND", 3),
];

impl Currency {
    pub const EUR: Currency = Currency { code: *b"EUR", exponent: 2 };
    pub const USD: Currency = Currency { code: *b"USD", exponent: 2 };

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("currency codes are ASCII")
    }

    /// Digits after the decimal point of the minor unit (2 for EUR, 0 for JPY).
    pub fn exponent(&self) -> u32 {
        u32::from(self.exponent)
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        KNOWN
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|(c, e)| Currency { code: c.as_bytes().try_into().expect("3 letters"), exponent: *e })
            .ok_or_else(|| MoneyError::UnknownCurrency(s.to_owned()))
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in a currency, held exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// From integer minor units (cents for EUR, yen for JPY).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self::new(Decimal::new(minor, currency.exponent()), currency)
    }

    /// Parses a decimal string such as `"2.49"`.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let amount: Decimal = amount.trim().parse().map_err(|_| MoneyError::InvalidAmount(amount.to_owned()))?;
        Ok(Self::new(amount, currency))
    }

    /// Rounded to the currency's minor unit, half away from zero.
    pub fn rounded(&self) -> Self {
        Self::new(
            self.amount.round_dp_with_strategy(self.currency.exponent(), RoundingStrategy::MidpointAwayFromZero),
            self.currency,
        )
    }

    /// Integer minor units after explicit rounding (half away from zero).
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        let scaled = self.rounded().amount * Decimal::from(10i64.pow(self.currency.exponent()));
        i64::try_from(scaled.normalize()).map_err(|_| MoneyError::Overflow(self.amount))
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let sum = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow(self.amount))?;
        Ok(Money::new(sum, self.currency))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.rounded();
        write!(f, "{:.*} {}", self.currency.exponent() as usize, r.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::EUR).unwrap()
    }

    #[test]
    fn minor_units_round_half_away_from_zero_not_to_even() {
        assert_eq!(eur("0.125").to_minor().unwrap(), 13); // banker's would give 12
        assert_eq!(eur("0.135").to_minor().unwrap(), 14);
        assert_eq!(eur("-0.125").to_minor().unwrap(), -13);
        assert_eq!(eur("2.49").to_minor().unwrap(), 249);
    }

    #[test]
    fn minor_units_round_trip_for_each_exponent() {
        for (code, minor) in [("EUR", 12_345_i64), ("JPY", 980), ("KWD", 1_250)] {
            let c: Currency = code.parse().unwrap();
            assert_eq!(Money::from_minor(minor, c).to_minor().unwrap(), minor);
        }
        assert_eq!(Money::from_minor(980, "JPY".parse().unwrap()).to_string(), "980 JPY");
        assert_eq!(Money::from_minor(5, Currency::EUR).to_string(), "0.05 EUR");
    }

    #[test]
    fn currencies_are_checked() {
        assert!("XXX".parse::<Currency>().is_err());
        assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
        let err = eur("1").checked_add(&Money::from_minor(1, Currency::USD)).unwrap_err();
        assert_eq!(err, MoneyError::CurrencyMismatch(Currency::EUR, Currency::USD));
        assert_eq!(serde_json::to_string(&Currency::USD).unwrap(), "\"USD\"");
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }
}
