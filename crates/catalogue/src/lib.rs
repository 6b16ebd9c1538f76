//! The built-in catalogue — what product-service sells — and the stock loms keeps of it, from one
//! deterministic source (the same on every start and machine), so that every SKU product-service lists
//! can be put in a cart and ordered. Data only: product-service and loms each turn it into their own
//! types; neither depends on the other.
//!
//! The catalogue: the course's SKUs with the names and prices its tests expect, the other SKUs the
//! course stocks, and 10,000 generated products. The stock: the course's figures for its SKUs
//! ([`COURSE_STOCK`]), and for every other SKU a deterministic total of 100 to 999 units, none reserved.
use std::collections::BTreeMap;

/// One catalogue entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: u32,
    pub name: String,
    pub price: u32,
}

/// One SKU's stock as loms starts with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    pub sku: u32,
    pub total: u64,
    pub reserved: u64,
}

/// The course's SKUs, with the names and prices its tests expect.
const COURSE_PRODUCTS: &[(u32, &str, u32)] = &[
    (1076963, "Теория нравственных чувств | Смит Адам", 3379),
    (1148162, "Кулинар Гуров", 2931),
    (1625903, "Сказки звездного неба", 1423),
    (2958025, "Roxy Music. Stranded. Remastered Edition", 1028),
    (773297411, "Кроссовки Nike JORDAN", 2202),
    (135717466, "Гигиеническая оценка питания", 4958),
    (
        4465995,
        "Кодекс Российской Федерации об административных правонарушениях",
        42,
    ),
];

/// The course's stock, `(sku, total, reserved)`: the starting stock its tests expect. loms's seed
/// migration (`migrations/loms/V20261126100100__seed_stock.sql`) writes the same rows.
pub const COURSE_STOCK: &[(u32, u64, u64)] = &[
    (1076963, 300, 35),
    (1148162, 300, 0),
    (1625903, 10000, 0),
    (2618151, 300, 0),
    (2956315, 300, 30),
    (2958025, 300, 0),
    (3596599, 300, 0),
    (3618852, 300, 0),
    (4288068, 300, 0),
    (4465995, 300, 0),
    (135717466, 100, 20),
    (135937324, 300, 30),
    (139275865, 65534, 0),
    (139819069, 100, 100),
    (773297411, 150, 10),
];

/// How many products are generated besides the course's.
const GENERATED: usize = 10_000;

const KINDS: &[&str] = &[
    "Книга",
    "Кружка",
    "Рюкзак",
    "Наушники",
    "Футболка",
    "Лампа",
    "Чайник",
    "Блокнот",
    "Зонт",
    "Кеды",
    "Плед",
    "Термос",
];
const TRAITS: &[&str] = &[
    "классическая",
    "дорожная",
    "детская",
    "подарочная",
    "складная",
    "спортивная",
    "винтажная",
    "компактная",
    "большая",
    "яркая",
];

/// The built-in catalogue, by SKU.
pub fn products() -> BTreeMap<u32, Product> {
    let mut products: BTreeMap<u32, Product> = COURSE_PRODUCTS
        .iter()
        .map(|&(sku, name, price)| {
            (
                sku,
                Product {
                    sku,
                    name: name.to_owned(),
                    price,
                },
            )
        })
        .collect();
    for &(sku, _, _) in COURSE_STOCK {
        products
            .entry(sku)
            .or_insert_with(|| generated_product(sku));
    }
    // A fixed linear congruential sequence (Knuth's MMIX constants) spreads the generated SKUs over
    // 1,000,000..2,000,000,000 the same way on every start.
    let mut state: u64 = 0x0005_EED0_F256;
    let mut added = 0;
    while added < GENERATED {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let sku = 1_000_000 + u32::try_from((state >> 33) % 1_999_000_000).unwrap_or(0);
        if let std::collections::btree_map::Entry::Vacant(slot) = products.entry(sku) {
            slot.insert(generated_product(sku));
            added += 1;
        }
    }
    products
}

/// The stock of every built-in SKU, in SKU order.
pub fn stock() -> Vec<StockLevel> {
    let course: BTreeMap<u32, (u64, u64)> = COURSE_STOCK
        .iter()
        .map(|&(sku, total, reserved)| (sku, (total, reserved)))
        .collect();
    products()
        .keys()
        .map(|&sku| {
            let (total, reserved) = course
                .get(&sku)
                .copied()
                .unwrap_or((100 + u64::from(sku.wrapping_mul(2246822519) >> 5) % 900, 0));
            StockLevel {
                sku,
                total,
                reserved,
            }
        })
        .collect()
}

fn generated_product(sku: u32) -> Product {
    let n = sku as usize;
    Product {
        sku,
        name: format!(
            "{} {} №{sku}",
            KINDS[n % KINDS.len()],
            TRAITS[(n / KINDS.len()) % TRAITS.len()]
        ),
        price: 50 + (sku.wrapping_mul(2654435761) >> 7) % 9_950,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_products_and_ten_thousand_more() {
        let products = products();
        assert_eq!(products.len(), 10_000 + COURSE_STOCK.len());
        let smith = &products[&1076963];
        assert_eq!(
            (smith.name.as_str(), smith.price),
            ("Теория нравственных чувств | Смит Адам", 3379)
        );
        assert!(products.values().all(|p| p.price > 0 && !p.name.is_empty()));
    }

    #[test]
    fn every_product_is_stocked_and_the_course_figures_hold() {
        let stock = stock();
        let products = products();
        assert_eq!(stock.len(), products.len());
        assert!(stock.iter().all(|s| products.contains_key(&s.sku)));
        for &(sku, total, reserved) in COURSE_STOCK {
            let level = stock.iter().find(|s| s.sku == sku).expect("stocked");
            assert_eq!(
                (level.total, level.reserved),
                (total, reserved),
                "sku {sku}"
            );
        }
        assert!(stock
            .iter()
            .all(|s| s.reserved <= s.total && s.total <= 65534 * 2));
    }

    #[test]
    fn the_same_on_every_call() {
        assert_eq!(products(), products());
        assert_eq!(stock(), stock());
    }
}
