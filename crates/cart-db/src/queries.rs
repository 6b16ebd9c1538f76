// This file was generated with `cornucopia`. Do not modify.

pub mod carts;
pub mod health;
