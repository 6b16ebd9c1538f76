// This file was generated with `cornucopia`. Do not modify.

pub mod health;
pub mod notifications;
