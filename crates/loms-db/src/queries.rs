// This file was generated with `cornucopia`. Do not modify.

pub mod health;
pub mod orders;
pub mod outbox;
pub mod stocks;
pub mod testing;
