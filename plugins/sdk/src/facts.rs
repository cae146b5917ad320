//! Facts: the typed key/values components publish for each other.

use std::collections::BTreeMap;

use crate::bindings::cairn::component::types as wit;

/// The value of a fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactValue {
    Text(String),
    Flag(bool),
    Number(i64),
    Texts(Vec<String>),
}

/// A fact a component provides or reads, as shown by `cairn inspect`.
#[derive(Debug, Clone)]
pub struct FactDecl {
    pub key: String,
    pub description: String,
    pub required: bool,
    /// For a read fact: whether the component must wait, on the cluster,
    /// for the provider to be ready (see [`FactDecl::wait`]).
    pub wait: bool,
}

impl FactDecl {
    /// A fact the component cannot render without.
    pub fn required(key: &str, description: &str) -> Self {
        Self {
            key: key.into(),
            description: description.into(),
            required: true,
            wait: false,
        }
    }

    /// Applies this component after the fact's provider on the cluster:
    /// for a fact naming something the provider installs that this
    /// component's objects use (a kind whose CRD its chart installs, its
    /// namespace, its gateway). Facts used only to render (a URL, a flag)
    /// need no waiting.
    pub fn wait(mut self) -> Self {
        self.wait = true;
        self
    }
    /// A fact the component uses when some component provides it (and for
    /// provided facts, which are never "required").
    pub fn optional(key: &str, description: &str) -> Self {
        Self {
            required: false,
            ..Self::required(key, description)
        }
    }
}

impl From<FactDecl> for wit::FactDecl {
    fn from(decl: FactDecl) -> Self {
        wit::FactDecl {
            key: decl.key,
            description: decl.description,
            required: decl.required,
            wait: decl.wait,
        }
    }
}

/// A set of facts, ordered by key so output never depends on insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts(BTreeMap<String, FactValue>);

impl Facts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a fact.
    pub fn set(mut self, key: &str, value: FactValue) -> Self {
        self.0.insert(key.into(), value);
        self
    }
    pub fn text(self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, FactValue::Text(value.into()))
    }
    pub fn flag(self, key: &str, value: bool) -> Self {
        self.set(key, FactValue::Flag(value))
    }
    pub fn number(self, key: &str, value: i64) -> Self {
        self.set(key, FactValue::Number(value))
    }
    pub fn texts(self, key: &str, value: Vec<String>) -> Self {
        self.set(key, FactValue::Texts(value))
    }

    pub fn get(&self, key: &str) -> Option<&FactValue> {
        self.0.get(key)
    }
    /// The text fact `key`, if present and a text.
    pub fn get_text(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(FactValue::Text(text)) => Some(text),
            _ => None,
        }
    }
    /// The flag `key`; absent counts as `false`.
    pub fn get_flag(&self, key: &str) -> bool {
        matches!(self.0.get(key), Some(FactValue::Flag(true)))
    }
    pub fn get_number(&self, key: &str) -> Option<i64> {
        match self.0.get(key) {
            Some(FactValue::Number(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn get_texts(&self, key: &str) -> Option<&[String]> {
        match self.0.get(key) {
            Some(FactValue::Texts(list)) => Some(list),
            _ => None,
        }
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FactValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn into_wit(self) -> Vec<wit::Fact> {
        self.0
            .into_iter()
            .map(|(key, value)| wit::Fact {
                key,
                value: match value {
                    FactValue::Text(v) => wit::FactValue::Text(v),
                    FactValue::Flag(v) => wit::FactValue::Flag(v),
                    FactValue::Number(v) => wit::FactValue::Number(v),
                    FactValue::Texts(v) => wit::FactValue::Texts(v),
                },
            })
            .collect()
    }

    pub(crate) fn from_wit(facts: Vec<wit::Fact>) -> Self {
        Self(
            facts
                .into_iter()
                .map(|fact| {
                    let value = match fact.value {
                        wit::FactValue::Text(v) => FactValue::Text(v),
                        wit::FactValue::Flag(v) => FactValue::Flag(v),
                        wit::FactValue::Number(v) => FactValue::Number(v),
                        wit::FactValue::Texts(v) => FactValue::Texts(v),
                    };
                    (fact.key, value)
                })
                .collect(),
        )
    }
}
