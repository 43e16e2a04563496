//! Newtype identifiers. Every id in the system is a distinct type so a
//! `VisitId` can never be passed where a `ShopperId` is expected; all are
//! serde-transparent strings on the wire and in the database.

/// Declares a string newtype id with `Display`, `FromStr`, serde-transparent
/// encoding and a random-UUID constructor.
#[macro_export]
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random (UUID v4) id.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self(s.to_owned()))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A store (one physical shop).
    StoreId
);
string_id!(
    /// A shopper's account.
    ShopperId
);
string_id!(
    /// One visit: from the entry scan to settlement.
    VisitId
);
string_id!(
    /// A stock-keeping unit: one product of the catalogue.
    Sku
);
string_id!(
    /// A camera of one store.
    CameraId
);
string_id!(
    /// An anonymous floor track of the vision tracker.
    TrackId
);
string_id!(
    /// A registered phone (holder of an Ed25519 entry key).
    DeviceId
);
string_id!(
    /// A saved payment method (a provider token, never a card number).
    PaymentMethodId
);
string_id!(
    /// A review case opened for a visit the system is unsure about.
    CaseId
);
string_id!(
    /// A member of staff.
    StaffId
);

/// A weighing plate, addressed by its place in the store: gondola, shelf
/// (counted from the bottom, 1-based) and plate (1-based along the shelf).
/// Written `G.S.P`, e.g. `3.2.11`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlateId {
    pub gondola: u16,
    pub shelf: u16,
    pub plate: u16,
}

impl PlateId {
    pub const fn new(gondola: u16, shelf: u16, plate: u16) -> Self {
        Self { gondola, shelf, plate }
    }
}

impl std::fmt::Display for PlateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.gondola, self.shelf, self.plate)
    }
}

/// Why a string is not a plate id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid plate id {0:?}: expected GONDOLA.SHELF.PLATE with positive integers, e.g. 3.2.11")]
pub struct InvalidPlateId(pub String);

impl std::str::FromStr for PlateId {
    type Err = InvalidPlateId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidPlateId(s.to_owned());
        let mut parts = s.split('.').map(|p| p.parse::<u16>().ok().filter(|n| *n > 0));
        let (Some(Some(g)), Some(Some(sh)), Some(Some(p)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self::new(g, sh, p))
    }
}

impl serde::Serialize for PlateId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PlateId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plate_id_round_trips_through_text_and_json() {
        let p: PlateId = "3.2.11".parse().unwrap();
        assert_eq!(p, PlateId::new(3, 2, 11));
        assert_eq!(p.to_string(), "3.2.11");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"3.2.11\"");
        assert_eq!(serde_json::from_str::<PlateId>(&json).unwrap(), p);
    }

    #[test]
    fn malformed_plate_ids_are_rejected() {
        for bad in ["", "3.2", "3.2.1.1", "a.b.c", "0.1.1", "3..1", "-1.2.3"] {
            assert!(bad.parse::<PlateId>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn string_ids_are_transparent_in_json() {
        let v = VisitId::from("v-1");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"v-1\"");
        assert_ne!(VisitId::random(), VisitId::random());
    }
}
