//! gproxy-testkit
