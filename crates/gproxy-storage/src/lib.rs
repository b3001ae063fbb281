//! gproxy-storage
