//! A method's identity: a hash of the service's name, the method's name and its types' spelling.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The text a method's identity is the hash of: `Service::method(T1,T2)->R`, types as spelled in
/// the trait with whitespace removed, so that formatting never changes an identity.
pub(crate) fn signature(
    service: &str,
    method: &str,
    args: &[&syn::Type],
    output: &TokenStream,
) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|ty| spelling(ty.to_token_stream()))
        .collect();
    format!(
        "{service}::{method}({})->{}",
        args.join(","),
        spelling(output.clone())
    )
}

/// A type's tokens as text without whitespace.
fn spelling(tokens: TokenStream) -> String {
    tokens
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// FNV-1a, 64 bits: small, stable across compilers and releases (unlike `std`'s hashers).
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn whitespace_does_not_change_a_signature_but_types_do() {
        let a: syn::Type = syn::parse_quote!(Vec<i64>);
        let b: syn::Type = syn::parse_str("Vec < i64 >").unwrap();
        let c: syn::Type = syn::parse_quote!(Vec<i32>);
        let out = quote::quote!(());
        assert_eq!(
            signature("S", "m", &[&a], &out),
            signature("S", "m", &[&b], &out)
        );
        assert_eq!(signature("S", "m", &[&a], &out), "S::m(Vec<i64>)->()");
        assert_ne!(
            signature("S", "m", &[&a], &out),
            signature("S", "m", &[&c], &out)
        );
    }
}
