//! gproxy-protocol
