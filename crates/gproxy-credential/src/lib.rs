//! gproxy-credential
