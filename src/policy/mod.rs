//! Policy: the Rego bundle, loaded, pinned by digest and evaluated in-process with regorus.
