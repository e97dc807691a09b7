//! `#[postbox::service]`: a trait becomes a typed service over postbox calls.
//!
//! Use it through the `postbox` crate, which re-exports it and holds the runtime it generates
//! code against (`postbox::service`, where the whole contract is written down).
//!
//! What a service trait may hold, checked here with a compile error saying why otherwise:
//! methods only (no associated types or constants), none generic, none `async` (the client has
//! `_async` forms; the server is a blocking loop), none `unsafe`; each takes `&self` or
//! `&mut self` and its other arguments by value as plain names (`x: T`); argument and return
//! types are owned (no references, `impl Trait` or `Self`) and must implement serde's
//! `Serialize` and `Deserialize`. A method returning `Result<T, E>` has `E` as its application
//! error; any other return type is the value itself. The trait itself is not generic, and no
//! method is called `new` or `callee` (the client's own).

mod identity;
mod method;
mod service;

use proc_macro::TokenStream;

/// Makes a trait a service: generates `{Trait}Request`, `{Trait}Response`, `{Trait}Client`
/// and `{Trait}Server` beside it. See `postbox::service` for the contract.
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into()).into()
}

/// The attribute's work, on `proc_macro2` tokens so that unit tests can run it.
fn expand(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[postbox::service] takes no arguments")
            .to_compile_error();
    }
    let item: syn::ItemTrait = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            return syn::Error::new(
                error.span(),
                "#[postbox::service] applies to a trait: its methods become the service's calls",
            )
            .to_compile_error();
        }
    };
    match service::Service::parse(item) {
        Ok(service) => service.expand(),
        Err(error) => error.to_compile_error(),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand;

    /// The compile error `item` expands to, or a panic if it expands to code.
    fn error_of(item: proc_macro2::TokenStream) -> String {
        let expanded = expand(proc_macro2::TokenStream::new(), item).to_string();
        assert!(
            expanded.contains("compile_error"),
            "expected an error, got {expanded}"
        );
        expanded
    }

    #[test]
    fn a_plain_trait_expands_to_its_four_companions() {
        let expanded = expand(
            quote!(),
            quote!(
                trait Calc {
                    fn add(&self, a: i64, b: i64) -> i64;
                }
            ),
        )
        .to_string();
        assert!(!expanded.contains("compile_error"), "{expanded}");
        for name in [
            "CalcRequest",
            "CalcResponse",
            "CalcClient",
            "CalcServer",
            "add_timeout",
            "add_async",
        ] {
            assert!(expanded.contains(name), "{name} missing from {expanded}");
        }
    }

    #[test]
    fn unsupported_shapes_get_an_error_saying_why() {
        let cases = [
            (
                quote!(
                    trait S<T> {
                        fn f(&self) -> T;
                    }
                ),
                "cannot be generic",
            ),
            (
                quote!(
                    trait S {
                        fn f<T>(&self, t: T);
                    }
                ),
                "cannot be generic",
            ),
            (
                quote!(
                    trait S {
                        async fn f(&self);
                    }
                ),
                "async fn is not supported",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self, s: &str);
                    }
                ),
                "cannot hold a reference",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self, s: Vec<&'static str>);
                    }
                ),
                "cannot hold a reference",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self) -> &str;
                    }
                ),
                "cannot hold a reference",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self, s: impl Clone);
                    }
                ),
                "not `impl`",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self) -> Self;
                    }
                ),
                "not `Self`",
            ),
            (
                quote!(
                    trait S {
                        fn f();
                    }
                ),
                "must take `&self` or `&mut self`",
            ),
            (
                quote!(
                    trait S {
                        fn f(self);
                    }
                ),
                "must take `&self` or `&mut self`",
            ),
            (
                quote!(
                    trait S {
                        fn f(&self, (a, b): (u8, u8));
                    }
                ),
                "plain names",
            ),
            (
                quote!(
                    trait S {
                        type T;
                        fn f(&self);
                    }
                ),
                "methods only",
            ),
            (
                quote!(
                    trait S {
                        const N: u8;
                    }
                ),
                "methods only",
            ),
            (
                quote!(
                    trait S {
                        fn new(&self);
                    }
                ),
                "cannot be called `new`",
            ),
            (
                quote!(
                    trait S {
                        fn a_b(&self);
                        fn a__b(&self);
                    }
                ),
                "would both be the request",
            ),
            (
                quote!(
                    trait S {}
                ),
                "at least one method",
            ),
            (
                quote!(
                    struct S;
                ),
                "applies to a trait",
            ),
        ];
        for (item, expected) in cases {
            let shown = item.to_string();
            let error = error_of(item);
            assert!(
                error.contains(expected),
                "{shown}: expected {expected:?} in {error}"
            );
        }
    }

    #[test]
    fn arguments_to_the_attribute_are_refused() {
        let expanded = expand(
            quote!(fast),
            quote!(
                trait S {
                    fn f(&self);
                }
            ),
        )
        .to_string();
        assert!(expanded.contains("takes no arguments"), "{expanded}");
    }
}
