//! A service trait, checked, and the code generated for it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Ident, ItemTrait, TraitItem};

use crate::method::{Method, Output};

/// Names the generated client takes for itself, which no method may use.
const CLIENT_NAMES: [&str; 2] = ["new", "callee"];

/// A checked service trait.
pub(crate) struct Service {
    item: ItemTrait,
    methods: Vec<Method>,
}

impl Service {
    /// Checks `item`, the trait under `#[postbox::service]`.
    pub(crate) fn parse(item: ItemTrait) -> syn::Result<Service> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(syn::Error::new(
                item.generics.span(),
                "a service trait cannot be generic: its methods' identities are computed from \
                 their types when the trait is compiled",
            ));
        }
        if let Some(unsafety) = &item.unsafety {
            return Err(syn::Error::new(
                unsafety.span(),
                "a service trait cannot be unsafe",
            ));
        }
        let mut methods = Vec::new();
        for trait_item in &item.items {
            let TraitItem::Fn(function) = trait_item else {
                return Err(syn::Error::new(
                    trait_item.span(),
                    "a service trait holds methods only: associated types, constants and \
                     macros cannot be called from another process",
                ));
            };
            let method = Method::parse(&item.ident, function)?;
            if CLIENT_NAMES.iter().any(|name| method.name == name) {
                return Err(syn::Error::new(
                    method.name.span(),
                    format!(
                        "a service method cannot be called `{}`: the generated client has a \
                         method of that name",
                        method.name
                    ),
                ));
            }
            if let Some(twin) = methods
                .iter()
                .find(|m: &&Method| m.variant == method.variant)
            {
                return Err(syn::Error::new(
                    method.name.span(),
                    format!(
                        "methods `{}` and `{}` would both be the request `{}`: rename one",
                        twin.name, method.name, method.variant
                    ),
                ));
            }
            methods.push(method);
        }
        if methods.is_empty() {
            return Err(syn::Error::new(
                item.ident.span(),
                "a service trait needs at least one method",
            ));
        }
        Ok(Service { item, methods })
    }

    /// The trait, unchanged, and everything generated beside it.
    pub(crate) fn expand(&self) -> TokenStream {
        let item = &self.item;
        let request = self.request();
        let response = self.response();
        let client = self.client();
        let server = self.server();
        quote! {
            #item
            #request
            #response
            #client
            #server
        }
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}{}", self.item.ident, suffix)
    }

    /// `{Service}Request`: one variant per method, its arguments, and their encoding.
    fn request(&self) -> TokenStream {
        let vis = &self.item.vis;
        let service = &self.item.ident;
        let service_text = service.to_string();
        let request = self.name("Request");
        let doc =
            format!("A request of [`{service}`]: one variant per method, holding its arguments.");
        let variants = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let doc = format!("A call of [`{service}::{}`].", m.name);
            let fields = m.args.iter().map(|(name, ty)| {
                let doc = format!("The argument `{name}`.");
                quote!(#[doc = #doc] #name: #ty)
            });
            quote!(#[doc = #doc] #variant { #(#fields),* })
        });
        let methods_table = self.methods.iter().map(|m| {
            let name = m.name.to_string();
            let id = m.id;
            quote!((#name, #id))
        });
        let decode_arms = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let id = m.id;
            let path = format!("{service}::{}", m.name);
            let names: Vec<&Ident> = m.args.iter().map(|(name, _)| name).collect();
            let types = m.args.iter().map(|(_, ty)| ty);
            quote! {
                #id => {
                    let (#(#names,)*): (#(#types,)*) =
                        ::postbox::service::__private::decode_args(#path, args)?;
                    ::core::result::Result::Ok(#request::#variant { #(#names),* })
                }
            }
        });
        let encode_arms = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let id = m.id;
            let names: Vec<&Ident> = m.args.iter().map(|(name, _)| name).collect();
            quote! {
                #request::#variant { #(#names),* } =>
                    ::postbox::service::__private::encode_request(#id, &(#(#names,)*))
            }
        });
        let id_arms = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let id = m.id;
            quote!(#request::#variant { .. } => #id)
        });
        quote! {
            #[doc = #doc]
            #vis enum #request {
                #(#variants,)*
            }

            impl #request {
                /// Every method's name and identity on the wire (a hash of the service's name,
                /// the method's name and its types' spelling).
                #vis const METHODS: &'static [(&'static str, u64)] = &[#(#methods_table),*];

                /// This request's method identity.
                #vis fn method_id(&self) -> u64 {
                    match self {
                        #(#id_arms,)*
                    }
                }

                /// Decodes a request's payload, as a server does.
                ///
                /// # Errors
                ///
                /// [`IncompatibleService`](postbox::service::IncompatibleService): the
                /// payload names no method of this service, or its arguments do not decode.
                #vis fn decode(
                    payload: &[u8],
                ) -> ::core::result::Result<Self, ::postbox::service::IncompatibleService> {
                    let ::core::option::Option::Some((id, args)) =
                        ::postbox::service::__private::split_request(payload)
                    else {
                        return ::core::result::Result::Err(
                            ::postbox::service::__private::unknown(#service_text, payload),
                        );
                    };
                    match id {
                        #(#decode_arms)*
                        _ => ::core::result::Result::Err(
                            ::postbox::service::__private::unknown(#service_text, payload),
                        ),
                    }
                }

                #[doc(hidden)]
                #vis fn __encode(
                    &self,
                ) -> ::core::result::Result<::postbox::Bytes, ::std::string::String> {
                    match self {
                        #(#encode_arms,)*
                    }
                }
            }
        }
    }

    /// `{Service}Response`: one variant per method, what it returned.
    fn response(&self) -> TokenStream {
        let vis = &self.item.vis;
        let service = &self.item.ident;
        let response = self.name("Response");
        let doc = format!("An answer of [`{service}`]: one variant per method, what it returned.");
        let variants = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let doc = format!("What [`{service}::{}`] returned.", m.name);
            let ty = match &m.output {
                Output::Value(ty) => quote!(#ty),
                Output::Result(ok, err) => quote!(::core::result::Result<#ok, #err>),
            };
            quote!(#[doc = #doc] #variant(#ty))
        });
        let answer_arms = self.methods.iter().map(|m| {
            let variant = &m.variant;
            let path = format!("{service}::{}", m.name);
            let answer = match &m.output {
                Output::Value(_) => quote!(answer_value),
                Output::Result(..) => quote!(answer_result),
            };
            quote! {
                #response::#variant(value) =>
                    ::postbox::service::__private::#answer(#path, value)
            }
        });
        quote! {
            #[doc = #doc]
            #vis enum #response {
                #(#variants,)*
            }

            impl #response {
                #[doc(hidden)]
                #vis fn __answer(&self) -> ::postbox::service::__private::Answer {
                    match self {
                        #(#answer_arms,)*
                    }
                }
            }
        }
    }

    /// `{Service}Client`: the trait's methods as calls.
    fn client(&self) -> TokenStream {
        let vis = &self.item.vis;
        let service = &self.item.ident;
        let client = self.name("Client");
        let request = self.name("Request");
        let doc = format!(
            "Calls a [`{service}`] server: each method sends its arguments to the callee and \
             waits for the answer (`_timeout` forms wait at most that long, `_async` forms are \
             futures).\n\n# Errors\n\nEvery method fails with a \
             [`ServiceError`](postbox::service::ServiceError): `Failed` (the server's \
             method returned `Err`), `Incompatible` (the server was built from another version \
             of the trait, or is no server of it), `Encode`, or `Call` (as for \
             [`Process::call`](postbox::Process::call): `Timeout`, `PeerGone`, …)."
        );
        let methods = self.methods.iter().map(|m| {
            let name = &m.name;
            let timeout_name = format_ident!("{}_timeout", m.name);
            let async_name = format_ident!("{}_async", m.name);
            let variant = &m.variant;
            let path = format!("{service}::{}", m.name);
            let docs = &m.docs;
            let params: Vec<TokenStream> =
                m.args.iter().map(|(name, ty)| quote!(#name: #ty)).collect();
            let names: Vec<&Ident> = m.args.iter().map(|(name, _)| name).collect();
            let ok = m.ok_type();
            let (err, decode_error) = match &m.output {
                Output::Value(_) => (
                    quote!(::core::convert::Infallible),
                    quote!(::postbox::service::__private::no_error),
                ),
                Output::Result(_, err) => (
                    quote!(#err),
                    quote!(::postbox::service::__private::decode_error::<#err>),
                ),
            };
            let returns = quote! {
                ::core::result::Result<#ok, ::postbox::service::ServiceError<#err>>
            };
            let timeout_doc = format!("As [`{client}::{name}`], waiting at most `timeout`.");
            let async_doc = format!("As [`{client}::{name}`], as a future.");
            quote! {
                #(#docs)*
                #[allow(clippy::too_many_arguments)]
                #vis fn #name(&self, #(#params),*) -> #returns {
                    ::postbox::service::__private::call(
                        self.process,
                        self.callee,
                        #path,
                        #request::#variant { #(#names),* }.__encode(),
                        ::postbox::service::__private::Wait::Forever,
                        #decode_error,
                    )
                }

                #[doc = #timeout_doc]
                #[allow(clippy::too_many_arguments)]
                #vis fn #timeout_name(
                    &self,
                    #(#params,)*
                    timeout: ::std::time::Duration,
                ) -> #returns {
                    ::postbox::service::__private::call(
                        self.process,
                        self.callee,
                        #path,
                        #request::#variant { #(#names),* }.__encode(),
                        ::postbox::service::__private::Wait::Timeout(timeout),
                        #decode_error,
                    )
                }

                #[doc = #async_doc]
                #[allow(clippy::too_many_arguments)]
                #vis async fn #async_name(&self, #(#params),*) -> #returns {
                    ::postbox::service::__private::call_async(
                        self.process,
                        self.callee,
                        #path,
                        #request::#variant { #(#names),* }.__encode(),
                        #decode_error,
                    )
                    .await
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            #vis struct #client<'p> {
                process: &'p ::postbox::Process,
                callee: ::postbox::Callee,
            }

            impl<'p> #client<'p> {
                /// A client calling `callee` (a pid, or a mailbox `process` has open) from
                /// `process`.
                #vis fn new(
                    process: &'p ::postbox::Process,
                    callee: impl ::core::convert::Into<::postbox::Callee>,
                ) -> Self {
                    #client { process, callee: callee.into() }
                }

                /// Who this client calls.
                #vis fn callee(&self) -> ::postbox::Callee {
                    self.callee
                }

                #(#methods)*
            }
        }
    }

    /// `{Service}Server`: the receive-and-answer loop and its one step.
    fn server(&self) -> TokenStream {
        let vis = &self.item.vis;
        let service = &self.item.ident;
        let server = self.name("Server");
        let request = self.name("Request");
        let response = self.name("Response");
        let (access, reborrow) = if self.methods.iter().any(|m| m.mutable) {
            (quote!(&mut), quote!(&mut *service))
        } else {
            (quote!(&), quote!(service))
        };
        let doc = format!(
            "Serves [`{service}`]: [`{server}::serve`] answers requests until receiving fails; \
             [`{server}::handle`] answers one, for a loop of your own."
        );
        let arms = self.methods.iter().map(|m| {
            let name = &m.name;
            let variant = &m.variant;
            let names: Vec<&Ident> = m.args.iter().map(|(name, _)| name).collect();
            quote! {
                #request::#variant { #(#names),* } =>
                    #response::#variant(service.#name(#(#names),*))
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug)]
            #vis struct #server;

            impl #server {
                /// Receives requests from `source` (the inbox, or a mailbox `process` has
                /// open) and answers each with `service`, until receiving fails: it returns
                /// why — `Gone` (the mailbox was deleted), `Disconnected` (the process's
                /// transport was lost), `PermissionDenied` or `Busy` (no right to receive).
                /// Messages that are not requests are passed over, as are answers whose
                /// caller stopped waiting; a request it does not understand is failed with
                /// an incompatibility, never answered with a guess.
                #vis fn serve<'m, __Impl: #service + ?Sized>(
                    process: &::postbox::Process,
                    source: impl ::core::convert::Into<::postbox::service::RequestSource<'m>>,
                    service: #access __Impl,
                ) -> ::postbox::RecvError {
                    ::postbox::service::__private::serve(process, source.into(), |received| {
                        #server::handle(process, received, #reborrow)
                    })
                }

                /// Answers `request`, which `process` received, with `service`.
                ///
                /// # Errors
                ///
                /// As [`Process::reply`](postbox::Process::reply): `NoRight` (`request`
                /// is no request, or was answered already), `Revoked` (the caller stopped
                /// waiting), `TooLarge`, `Disconnected`.
                #vis fn handle<__Impl: #service + ?Sized>(
                    process: &::postbox::Process,
                    request: &::postbox::Received,
                    service: #access __Impl,
                ) -> ::core::result::Result<(), ::postbox::ReplyError> {
                    if request.call().is_none() {
                        return ::core::result::Result::Err(::postbox::ReplyError::NoRight);
                    }
                    let answer = match #request::decode(request.payload()) {
                        ::core::result::Result::Ok(decoded) => {
                            #server::dispatch(decoded, service).__answer()
                        }
                        ::core::result::Result::Err(incompatible) => {
                            ::postbox::service::__private::answer_incompatible(&incompatible)
                        }
                    };
                    ::postbox::service::__private::send_answer(process, request, answer)
                }

                /// Runs the method `request` names on `service`.
                #vis fn dispatch<__Impl: #service + ?Sized>(
                    request: #request,
                    service: #access __Impl,
                ) -> #response {
                    match request {
                        #(#arms,)*
                    }
                }
            }
        }
    }
}
