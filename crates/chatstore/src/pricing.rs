//! Token prices per provider and model, used to cost usage records when they are stored.
//!
//! ```
//! use chatstore::{Price, PriceTable};
//!
//! let prices = PriceTable::default()
//!     .with(Price::per_million("openai", 2.50, 10.00).for_model("gpt-4o"));
//! // The seeds' DeepSeek rates: $0.14 per million prompt tokens, $0.28 per million completion.
//! let cost = prices.cost("custom", "deepseek-chat", 1_000_000, 500_000, 0);
//! assert!((cost.amount - 0.28).abs() < 1e-9);
//! assert_eq!(prices.cost("openai", "gpt-4o", 1_000_000, 0, 0).amount, 2.5);
//! assert_eq!(prices.cost("ollama", "llama3.2:3b", 9_999, 9_999, 0).amount, 0.0);
//! ```

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Highest price of a million tokens a table accepts (a thousand times the dearest
/// models of 2026).
pub const MAX_PRICE_PER_MILLION: f64 = 1_000_000.0;

/// The price of one provider's tokens, optionally for one model only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Provider name, matched exactly.
    pub provider: String,
    /// Model name, matched exactly; `None` prices every model of the provider that has
    /// no price of its own.
    pub model: Option<String>,
    /// Price of a million prompt tokens.
    pub prompt_per_million: f64,
    /// Price of a million completion tokens.
    pub completion_per_million: f64,
    /// Price of a million embedding tokens.
    pub embedding_per_million: f64,
    /// Currency code.
    pub currency: String,
}

impl Price {
    /// A provider-wide price in USD with free embeddings.
    pub fn per_million(provider: &str, prompt: f64, completion: f64) -> Price {
        Price {
            provider: provider.to_owned(),
            model: None,
            prompt_per_million: prompt,
            completion_per_million: completion,
            embedding_per_million: 0.0,
            currency: "USD".to_owned(),
        }
    }

    /// Restricts the price to one model.
    pub fn for_model(mut self, model: &str) -> Price {
        self.model = Some(model.to_owned());
        self
    }

    /// Sets the embedding price.
    pub fn embedding(mut self, per_million: f64) -> Price {
        self.embedding_per_million = per_million;
        self
    }
}

/// A computed cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Amount.
    pub amount: f64,
    /// Currency code.
    pub currency: String,
}

/// Prices by provider and model. A call of an unpriced provider costs 0 USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    prices: Vec<Price>,
}

impl Default for PriceTable {
    /// The seeds' table: `custom` (DeepSeek) at $0.14 / $0.28 per million prompt /
    /// completion tokens, `ollama` free.
    fn default() -> Self {
        PriceTable::empty()
            .with(Price::per_million("custom", 0.14, 0.28))
            .with(Price::per_million("ollama", 0.0, 0.0))
    }
}

impl PriceTable {
    /// A table with no prices.
    pub fn empty() -> PriceTable {
        PriceTable { prices: Vec::new() }
    }

    /// Adds or replaces the price for its provider and model.
    pub fn with(mut self, price: Price) -> PriceTable {
        self.prices
            .retain(|p| !(p.provider == price.provider && p.model == price.model));
        self.prices.push(price);
        self
    }

    /// Checks every price: finite, not negative, and at most [`MAX_PRICE_PER_MILLION`]
    /// (far above any real model's), so that no cost can overflow.
    pub fn validate(&self) -> Result<()> {
        for price in &self.prices {
            for (what, per_million) in [
                ("prompt", price.prompt_per_million),
                ("completion", price.completion_per_million),
                ("embedding", price.embedding_per_million),
            ] {
                if !(0.0..=MAX_PRICE_PER_MILLION).contains(&per_million) {
                    return Err(Error::validation(
                        "pricing",
                        format!(
                            "{what} price of {} is {per_million}; prices are 0 to {MAX_PRICE_PER_MILLION} per million tokens",
                            price.provider
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The prices in the table.
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The price that applies: the model's own, else the provider's.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&Price> {
        let of_provider = || self.prices.iter().filter(move |p| p.provider == provider);
        of_provider()
            .find(|p| p.model.as_deref() == Some(model))
            .or_else(|| of_provider().find(|p| p.model.is_none()))
    }

    /// Prices a call.
    pub fn cost(
        &self,
        provider: &str,
        model: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        embedding_tokens: u64,
    ) -> Cost {
        match self.lookup(provider, model) {
            Some(price) => Cost {
                amount: (prompt_tokens as f64 * price.prompt_per_million
                    + completion_tokens as f64 * price.completion_per_million
                    + embedding_tokens as f64 * price.embedding_per_million)
                    / 1_000_000.0,
                currency: price.currency.clone(),
            },
            None => Cost {
                amount: 0.0,
                currency: "USD".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_price_beats_provider_price_and_replacing_works() {
        let table = PriceTable::empty()
            .with(Price::per_million("p", 1.0, 2.0))
            .with(Price::per_million("p", 10.0, 20.0).for_model("big"))
            .with(Price::per_million("p", 3.0, 4.0));
        assert_eq!(table.prices().len(), 2);
        assert_eq!(table.cost("p", "small", 1_000_000, 0, 0).amount, 3.0);
        assert_eq!(table.cost("p", "big", 0, 1_000_000, 0).amount, 20.0);
        assert_eq!(table.cost("q", "any", 1_000_000, 1_000_000, 0).amount, 0.0);
    }

    #[test]
    fn embeddings_are_priced() {
        let table = PriceTable::empty().with(Price::per_million("e", 0.0, 0.0).embedding(0.02));
        let cost = table.cost("e", "m", 0, 0, 2_000_000);
        assert!((cost.amount - 0.04).abs() < 1e-12);
        assert_eq!(cost.currency, "USD");
    }

    #[test]
    fn prices_out_of_bounds_are_refused() {
        for bad in [-0.01, f64::NAN, f64::INFINITY, MAX_PRICE_PER_MILLION * 2.0] {
            let table = PriceTable::empty().with(Price::per_million("p", 1.0, bad));
            assert!(table.validate().is_err(), "{bad} accepted");
            let embedding =
                PriceTable::empty().with(Price::per_million("p", 0.0, 0.0).embedding(bad));
            assert!(embedding.validate().is_err(), "{bad} accepted");
        }
        assert!(PriceTable::default().validate().is_ok());
        let config = crate::Config::new("x.db")
            .pricing(PriceTable::empty().with(Price::per_million("p", f64::NAN, 0.0)));
        assert!(
            config.validate().is_err(),
            "the configuration checks its prices"
        );
    }
}
