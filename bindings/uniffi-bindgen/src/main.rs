#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

fn main() {
    uniffi::uniffi_bindgen_main()
}
