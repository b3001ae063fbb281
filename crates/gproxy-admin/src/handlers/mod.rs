//! The handlers, one module per resource. Each is thin: decode, check,
//! call storage, render.

pub mod audit;
pub mod budgets;
pub mod cache;
pub mod config;
pub mod credentials;
pub mod logs;
pub mod meta;
pub mod model_routes;
pub mod oauth;
pub mod pricing;
pub mod providers;
pub mod session;
pub mod settings;
pub mod users;
