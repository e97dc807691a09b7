//! One method of a service trait: checked against what can cross a process boundary.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, TraitItemFn, Type};

use crate::identity;

/// What a method returns: a plain value, or a `Result` whose `Err` is the application's error.
pub(crate) enum Output {
    /// `-> T` (or nothing, `()`): the call returns `T`.
    Value(Type),
    /// `-> Result<T, E>`: the call returns `T`, or fails with `E`.
    Result(Type, Box<Type>),
}

/// A checked service method.
pub(crate) struct Method {
    /// Its name, as in the trait.
    pub(crate) name: Ident,
    /// Its name as an enum variant (`add_all` → `AddAll`).
    pub(crate) variant: Ident,
    /// Whether it takes `&mut self`.
    pub(crate) mutable: bool,
    /// Its arguments' names and types, in order.
    pub(crate) args: Vec<(Ident, Type)>,
    /// What it returns.
    pub(crate) output: Output,
    /// Its documentation, carried onto the client's methods.
    pub(crate) docs: Vec<syn::Attribute>,
    /// Its identity on the wire.
    pub(crate) id: u64,
}

impl Method {
    /// Checks `item`, a method of service `service`.
    pub(crate) fn parse(service: &Ident, item: &TraitItemFn) -> syn::Result<Method> {
        let sig = &item.sig;
        if let Some(asyncness) = &sig.asyncness {
            return Err(syn::Error::new(
                asyncness.span(),
                "async fn is not supported in a service trait: the server answers from a \
                 blocking loop, and the client already has an `_async` form of every method",
            ));
        }
        if let Some(unsafety) = &sig.unsafety {
            return Err(syn::Error::new(
                unsafety.span(),
                "a service method cannot be unsafe: it is called from another process",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            return Err(syn::Error::new(
                sig.generics.span(),
                "a service method cannot be generic: a method's identity is computed from its \
                 types when the trait is compiled; write one method per concrete type",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            return Err(syn::Error::new(
                variadic.span(),
                "a service method cannot be variadic",
            ));
        }
        let mutable = match sig.inputs.first() {
            Some(FnArg::Receiver(receiver))
                if receiver.reference.is_some() && receiver.colon_token.is_none() =>
            {
                receiver.mutability.is_some()
            }
            _ => {
                return Err(syn::Error::new(
                    sig.span(),
                    format!(
                        "service method `{}` must take `&self` or `&mut self`: it runs on the \
                         server's value",
                        sig.ident
                    ),
                ));
            }
        };
        let mut args = Vec::new();
        for input in sig.inputs.iter().skip(1) {
            let FnArg::Typed(typed) = input else {
                unreachable!("only the first argument can be a receiver")
            };
            let Pat::Ident(pat) = &*typed.pat else {
                return Err(syn::Error::new(
                    typed.pat.span(),
                    "a service method's arguments must be plain names (`x: T`), not patterns",
                ));
            };
            if pat.by_ref.is_some() || pat.subpat.is_some() {
                return Err(syn::Error::new(
                    pat.span(),
                    "a service method's arguments must be plain names (`x: T`)",
                ));
            }
            check_owned(&typed.ty, "argument")?;
            args.push((pat.ident.clone(), (*typed.ty).clone()));
        }
        let (output, output_tokens) = match &sig.output {
            ReturnType::Default => (Output::Value(syn::parse_quote!(())), quote!(())),
            ReturnType::Type(_, ty) => {
                check_owned(ty, "return type")?;
                (split_result(ty), ty.to_token_stream())
            }
        };
        let types: Vec<&Type> = args.iter().map(|(_, ty)| ty).collect();
        let id = identity::fnv1a(&identity::signature(
            &service.to_string(),
            &sig.ident.unraw().to_string(),
            &types,
            &output_tokens,
        ));
        Ok(Method {
            name: sig.ident.clone(),
            variant: format_ident!(
                "{}",
                camel(&sig.ident.unraw().to_string()),
                span = sig.ident.span()
            ),
            mutable,
            args,
            output,
            docs: item
                .attrs
                .iter()
                .filter(|attr| attr.path().is_ident("doc"))
                .cloned()
                .collect(),
            id,
        })
    }

    /// The type a successful call returns.
    pub(crate) fn ok_type(&self) -> &Type {
        match &self.output {
            Output::Value(ty) | Output::Result(ty, _) => ty,
        }
    }
}

/// Fails on a type that cannot travel by value: references, `impl Trait`, `Self`.
fn check_owned(ty: &Type, what: &str) -> syn::Result<()> {
    fn scan(tokens: TokenStream, what: &str) -> syn::Result<()> {
        for token in tokens {
            match token {
                TokenTree::Punct(punct) if punct.as_char() == '&' => {
                    return Err(syn::Error::new(
                        punct.span(),
                        format!(
                            "a service method's {what} cannot hold a reference: values are \
                             copied to another process; use an owned type (`String` for \
                             `&str`, `Vec<T>` for `&[T]`)"
                        ),
                    ));
                }
                TokenTree::Ident(ident) if ident == "impl" || ident == "Self" => {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!(
                            "a service method's {what} must be a concrete type that serde can \
                             encode, not `{ident}`"
                        ),
                    ));
                }
                TokenTree::Group(group) => scan(group.stream(), what)?,
                _ => {}
            }
        }
        Ok(())
    }
    scan(ty.to_token_stream(), what)
}

/// `Result<T, E>` (any path ending in `Result` with two type arguments) → `Output::Result`.
fn split_result(ty: &Type) -> Output {
    if let Type::Path(path) = ty
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(generics) = &last.arguments
        && generics.args.len() == 2
        && let (Some(GenericArgument::Type(ok)), Some(GenericArgument::Type(err))) =
            (generics.args.first(), generics.args.last())
    {
        return Output::Result(ok.clone(), Box::new(err.clone()));
    }
    Output::Value(ty.clone())
}

/// `snake_case` → `CamelCase`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_joins_the_words() {
        assert_eq!(camel("add"), "Add");
        assert_eq!(camel("add_all_of_them"), "AddAllOfThem");
    }
}
