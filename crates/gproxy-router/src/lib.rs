//! gproxy-router
