//! gproxy-provider
