//! An ordered JSON tree: maps keep the order keys were inserted in, so a template reads
//! as CloudFormation templates usually do (`Type` before `Properties`, the endpoint first
//! among outputs) and the output does not depend on serde_json's map features, which other
//! crates of the workspace could switch on. Plus the intrinsic functions the template uses.
//!
//! Known limits: a key set twice is kept twice; [`Obj::set`] callers never do that for
//! properties, and the template builder checks resource ids.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose maps keep insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    List(Vec<Node>),
    /// An object, in insertion order.
    Map(Vec<(String, Node)>),
}

/// An object being built.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj(Vec<(String, Node)>);

impl Obj {
    /// An empty object.
    pub(crate) fn new() -> Obj {
        Obj(Vec::new())
    }

    /// Adds `key`.
    pub(crate) fn set(mut self, key: &str, value: impl Into<Node>) -> Obj {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// Adds `key` when `value` is `Some`.
    pub(crate) fn opt(self, key: &str, value: Option<impl Into<Node>>) -> Obj {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Adds `key` to an object being built in place.
    pub(crate) fn push(&mut self, key: &str, value: impl Into<Node>) {
        self.0.push((key.to_owned(), value.into()));
    }

    /// Whether nothing was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Obj> for Node {
    fn from(o: Obj) -> Node {
        Node::Map(o.0)
    }
}
impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_owned())
    }
}
impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}
impl From<&String> for Node {
    fn from(s: &String) -> Node {
        Node::Str(s.clone())
    }
}
impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}
impl From<u32> for Node {
    fn from(n: u32) -> Node {
        Node::Int(n.into())
    }
}
impl From<u16> for Node {
    fn from(n: u16) -> Node {
        Node::Int(n.into())
    }
}
impl From<i32> for Node {
    fn from(n: i32) -> Node {
        Node::Int(n.into())
    }
}
impl From<u64> for Node {
    fn from(n: u64) -> Node {
        Node::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Node {
    fn from(n: f64) -> Node {
        Node::Float(n)
    }
}
impl<T: Into<Node>> From<Vec<T>> for Node {
    fn from(items: Vec<T>) -> Node {
        Node::List(items.into_iter().map(Into::into).collect())
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(n) => s.serialize_i64(*n),
            Node::Float(n) => s.serialize_f64(*n),
            Node::Str(t) => s.serialize_str(t),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// `{"Ref": id}`: a resource's id, or a parameter's or pseudo parameter's value.
pub(crate) fn reference(id: &str) -> Node {
    Obj::new().set("Ref", id).into()
}

/// `{"Fn::GetAtt": [id, attribute]}`.
pub(crate) fn get_att(id: &str, attribute: &str) -> Node {
    Obj::new().set("Fn::GetAtt", vec![id, attribute]).into()
}

/// `{"Fn::Sub": text}`.
pub(crate) fn sub(text: impl Into<String>) -> Node {
    Obj::new().set("Fn::Sub", text.into()).into()
}

/// `{"Fn::Join": [separator, parts]}`.
pub(crate) fn join(separator: &str, parts: Vec<Node>) -> Node {
    Obj::new()
        .set("Fn::Join", vec![Node::from(separator), Node::List(parts)])
        .into()
}

/// `[{"Key": k, "Value": v}, ...]`: the tag list most resource types take; `None` when
/// there is no tag, so the property is left out.
pub(crate) fn tag_list(tags: &[(String, String)]) -> Option<Node> {
    (!tags.is_empty()).then(|| {
        Node::List(
            tags.iter()
                .map(|(k, v)| Obj::new().set("Key", k).set("Value", v).into())
                .collect(),
        )
    })
}

/// `{k: v, ...}`: the tag map API Gateway v2 resources take.
pub(crate) fn tag_map(tags: &[(String, String)]) -> Option<Node> {
    (!tags.is_empty()).then(|| tags.iter().fold(Obj::new(), |o, (k, v)| o.set(k, v)).into())
}
