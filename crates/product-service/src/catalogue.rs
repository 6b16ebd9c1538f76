//! The catalogue: what each SKU is called and costs.
//!
//! The built-in catalogue comes from the `catalogue` crate: deterministic (the same on every start and
//! machine), the course's SKUs with their names and prices and 10,000 generated products, every one of
//! them stocked by loms.
use std::collections::BTreeMap;
use std::path::Path;

/// A product's catalogue entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Product {
    /// The display name.
    pub(crate) name: String,
    /// The price of one unit.
    pub(crate) price: u32,
}

/// The catalogue could not be loaded from a file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read catalogue file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalogue file {path} is not the course's JSON format")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("catalogue key {0:?} is not a positive 32-bit SKU")]
    BadSku(String),
}

/// Products by SKU, ordered so that SKUs can be paged through.
#[derive(Clone, Debug)]
pub(crate) struct Catalogue {
    products: BTreeMap<u32, Product>,
}

impl Catalogue {
    /// The built-in catalogue (the `catalogue` crate, which loms stocks too).
    pub(crate) fn builtin() -> Self {
        let products = catalogue::products()
            .into_values()
            .map(|p| {
                (
                    p.sku,
                    Product {
                        name: p.name,
                        price: p.price,
                    },
                )
            })
            .collect();
        Self { products }
    }

    /// A catalogue read from the course's JSON format: `{"<sku>": {"name": ..., "price": ...}, ...}`.
    pub(crate) fn from_json(json: &str) -> Result<Self, CatalogueError> {
        let raw: BTreeMap<String, Product> =
            serde_json::from_str(json).map_err(|source| CatalogueError::Parse {
                path: "<inline>".to_owned(),
                source,
            })?;
        let products = raw
            .into_iter()
            .map(|(key, product)| match key.parse::<u32>() {
                Ok(sku) if sku > 0 => Ok((sku, product)),
                _ => Err(CatalogueError::BadSku(key)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { products })
    }

    /// A catalogue read from a file in the course's JSON format.
    pub(crate) fn from_file(path: &Path) -> Result<Self, CatalogueError> {
        let shown = path.display().to_string();
        let json = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&json).map_err(|error| match error {
            CatalogueError::Parse { source, .. } => CatalogueError::Parse {
                path: shown,
                source,
            },
            other => other,
        })
    }

    /// The product of `sku`, if listed.
    pub(crate) fn get(&self, sku: u32) -> Option<&Product> {
        self.products.get(&sku)
    }

    /// Up to `count` SKUs greater than `start_after`, ascending.
    pub(crate) fn skus_after(&self, start_after: u32, count: usize) -> Vec<u32> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.products
            .range((Excluded(start_after), Unbounded))
            .take(count)
            .map(|(&sku, _)| sku)
            .collect()
    }

    /// How many products are listed.
    pub(crate) fn len(&self) -> usize {
        self.products.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_course_products_and_at_least_ten_thousand_skus() {
        let catalogue = Catalogue::builtin();
        assert!(catalogue.len() >= 10_000 + 7);
        let smith = catalogue.get(1076963).expect("listed");
        assert_eq!(smith.name, "Теория нравственных чувств | Смит Адам");
        assert_eq!(smith.price, 3379);
        assert_eq!(catalogue.get(4465995).map(|p| p.price), Some(42));
        for level in catalogue::stock() {
            assert!(
                catalogue.get(level.sku).is_some(),
                "{} is stocked by loms",
                level.sku
            );
        }
    }

    #[test]
    fn builtin_is_deterministic() {
        let (a, b) = (Catalogue::builtin(), Catalogue::builtin());
        assert_eq!(a.skus_after(0, usize::MAX), b.skus_after(0, usize::MAX));
        let sku = a.skus_after(5_000_000, 1)[0];
        assert_eq!(a.get(sku), b.get(sku));
        assert!(a.get(sku).is_some_and(|p| (50..10_000).contains(&p.price)));
    }

    #[test]
    fn skus_page_in_ascending_order_after_the_cursor() {
        let catalogue = Catalogue::from_json(
            r#"{"30": {"name": "c", "price": 3}, "10": {"name": "a", "price": 1}, "20": {"name": "b", "price": 2}}"#,
        )
        .expect("valid");
        assert_eq!(catalogue.skus_after(0, 2), vec![10, 20]);
        assert_eq!(catalogue.skus_after(10, 5), vec![20, 30]);
        assert!(catalogue.skus_after(30, 5).is_empty());
    }

    #[test]
    fn json_catalogue_rejects_bad_keys_and_shapes() {
        assert!(matches!(
            Catalogue::from_json(r#"{"abc": {"name": "x", "price": 1}}"#),
            Err(CatalogueError::BadSku(_))
        ));
        assert!(matches!(
            Catalogue::from_json(r#"{"0": {"name": "x", "price": 1}}"#),
            Err(CatalogueError::BadSku(_))
        ));
        assert!(matches!(
            Catalogue::from_json(r#"{"1": {"name": "x"}}"#),
            Err(CatalogueError::Parse { .. })
        ));
    }

    #[test]
    fn catalogue_file_is_read() {
        let path = std::env::temp_dir().join(format!("catalogue-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"7": {"name": "seven", "price": 70}}"#).expect("write");
        let catalogue = Catalogue::from_file(&path).expect("valid file");
        let _ = std::fs::remove_file(&path);
        assert_eq!(catalogue.get(7).map(|p| p.price), Some(70));
        assert!(matches!(
            Catalogue::from_file(Path::new("/nonexistent/catalogue.json")),
            Err(CatalogueError::Read { .. })
        ));
    }
}
