//! gproxy-core
