//! Errors of the cost model: bad price data (caught by a test, never by a user) and
//! inputs it cannot price.

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The price file is not valid TOML or does not have the expected shape.
    #[error("price data does not parse")]
    Prices(#[from] toml::de::Error),
    /// A region of the price file lacks a figure the model needs.
    #[error("price data: region {region} has no `{item}`")]
    MissingPrice {
        /// The region code.
        region: String,
        /// The missing figure's key.
        item: &'static str,
    },
    /// A region's `same_as` names a region that is absent or itself borrowed.
    #[error("price data: region {region} is `same_as` {target}, which has no figures of its own")]
    SameAs {
        /// The borrowing region.
        region: String,
        /// The region it names.
        target: String,
    },
    /// The stack's region has no prices.
    #[error("no prices for region {region}; known: {known}")]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The regions the price file has, comma-separated.
        known: String,
    },
    /// An input is out of range (a negative volume, a discount outside 0-100 %).
    #[error("{0}")]
    BadInput(String),
}
