//! Topics: per-prefix permissions inside a bucket. Keys under a topic are
//! `{topic}/{owner}/{name}`; the topic's write mode says who may create, replace and
//! delete there, its read mode who may read and list. The decision here is pure; the
//! access check (`policy`) applies it, and the rules live in the metadata store, cached.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::auth::Principal;
use crate::meta::{ReadMode, Store, TopicRule, WriteMode};

/// A key located under a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKey<'a> {
    /// The rule of the topic the key is under.
    pub rule: &'a TopicRule,
    /// The segment after the topic: the name of the user of the bucket's tenant who owns the key.
    pub owner: &'a str,
    /// The rest of the key after `{topic}/{owner}/` (empty if the key stops there).
    pub name: &'a str,
}

/// What a request does to a key under a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicOp {
    /// GET, HEAD, list, tagging and ACL reads.
    Read,
    /// A write to a key that does not exist (also multipart steps before completion).
    Create,
    /// A write to a key that exists.
    Overwrite,
    /// A delete of the key.
    Delete,
}

/// Why a topic refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicDenial {
    /// Not the owner (or not signed) where the mode wants one.
    NotAllowed,
    /// Append topics are immutable: no overwrite, no delete, by anyone.
    Immutable,
    /// A write must name `{topic}/{owner}/{name}`.
    NoName,
}

/// The topic `key` falls under in `bucket`, if any (the longest matching topic wins).
#[must_use]
pub fn locate<'a>(rules: &'a [TopicRule], key: &'a str) -> Option<TopicKey<'a>> {
    let rule = rules
        .iter()
        .filter(|r| key.len() > r.topic.len() && key.starts_with(r.topic.as_str()) && key.as_bytes()[r.topic.len()] == b'/')
        .max_by_key(|r| r.topic.len())?;
    let rest = &key[rule.topic.len() + 1..];
    let (owner, name) = rest.split_once('/').unwrap_or((rest, ""));
    Some(TopicKey { rule, owner, name })
}

/// Whether `p` owns the `{owner}` space: a user of the bucket's tenant by that name.
fn is_owner(p: &Principal, bucket_tenant: &str, owner: &str) -> bool {
    p.identity().is_some_and(|i| !owner.is_empty() && i.tenant == bucket_tenant && i.user == owner)
}

/// The topic decision for `op` by `p` on `t`, in a bucket of `bucket_tenant`.
pub fn decide(p: &Principal, bucket_tenant: &str, t: &TopicKey<'_>, op: TopicOp) -> Result<(), TopicDenial> {
    let owner = is_owner(p, bucket_tenant, t.owner);
    let allowed = |yes: bool| {
        if yes { Ok(()) } else { Err(TopicDenial::NotAllowed) }
    };
    match op {
        TopicOp::Read => allowed(match t.rule.read {
            ReadMode::Public => true,
            ReadMode::Open => !p.is_anonymous(),
            ReadMode::Auth => owner || p.administers(bucket_tenant),
        }),
        TopicOp::Overwrite | TopicOp::Delete if matches!(t.rule.write, WriteMode::AppendAuth | WriteMode::AppendOpen) => Err(TopicDenial::Immutable),
        TopicOp::Create | TopicOp::Overwrite | TopicOp::Delete => {
            if t.owner.is_empty() || t.name.is_empty() {
                return Err(TopicDenial::NoName);
            }
            allowed(match t.rule.write {
                WriteMode::SingleAuth | WriteMode::AppendAuth => owner,
                WriteMode::SingleOpen | WriteMode::AppendOpen => !p.is_anonymous(),
            })
        }
    }
}

/// Whether `prefix` (of a listing) lies inside one topic: listings there are filtered by
/// the topic's read mode instead of being refused to other tenants outright.
#[must_use]
pub fn listing_topic<'a>(rules: &'a [TopicRule], prefix: &str) -> Option<&'a TopicRule> {
    rules
        .iter()
        .filter(|r| prefix.len() > r.topic.len() && prefix.starts_with(r.topic.as_str()) && prefix.as_bytes()[r.topic.len()] == b'/')
        .max_by_key(|r| r.topic.len())
}

/// The topic rules of every bucket, cached from the store: following each control-plane
/// change applied (as a [`crate::meta::ControlListener`]), and the configured rules
/// [`Topics::put`] stores at start.
pub struct Topics {
    store: Arc<dyn Store>,
    by_bucket: RwLock<HashMap<String, Arc<Vec<TopicRule>>>>,
}

impl Topics {
    /// Every bucket's topic rules, as stored.
    pub fn load(store: Arc<dyn Store>) -> crate::meta::Result<Self> {
        let topics = Self { store, by_bucket: RwLock::new(HashMap::new()) };
        topics.reload_all()?;
        Ok(topics)
    }

    /// Re-reads every rule from the store (at start, and after a rebuild).
    pub fn reload_all(&self) -> crate::meta::Result<()> {
        let mut by_bucket: HashMap<String, Vec<TopicRule>> = HashMap::new();
        for r in self.store.topic_list()? {
            by_bucket.entry(r.bucket.clone()).or_default().push(r);
        }
        *self.by_bucket.write().unwrap_or_else(PoisonError::into_inner) = by_bucket.into_iter().map(|(b, v)| (b, Arc::new(v))).collect();
        Ok(())
    }

    /// The rules of `bucket` (empty for most buckets).
    #[must_use]
    pub fn of(&self, bucket: &str) -> Arc<Vec<TopicRule>> {
        self.by_bucket.read().unwrap_or_else(PoisonError::into_inner).get(bucket).cloned().unwrap_or_default()
    }

    fn reload(&self, bucket: &str) -> crate::meta::Result<()> {
        let rules: Vec<TopicRule> = self.store.topic_list()?.into_iter().filter(|r| r.bucket == bucket).collect();
        let mut map = self.by_bucket.write().unwrap_or_else(PoisonError::into_inner);
        if rules.is_empty() {
            map.remove(bucket);
        } else {
            map.insert(bucket.to_owned(), Arc::new(rules));
        }
        Ok(())
    }

    /// Stores `rule` (replacing the bucket's rule for the same topic) and reloads its bucket.
    pub fn put(&self, rule: &TopicRule, audit: Option<&crate::meta::AuditEntry>) -> crate::meta::Result<()> {
        self.store.topic_put(rule, audit)?;
        self.reload(&rule.bucket)
    }
}

impl crate::meta::ControlListener for Topics {
    fn applied(&self, change: &crate::meta::ControlChange, _: &crate::meta::Applied) {
        use crate::meta::ControlChange as C;
        if let C::TopicPut { rule: TopicRule { bucket, .. } } | C::TopicDelete { bucket, .. } | C::BucketDelete { name: bucket } = change
            && let Err(e) = self.reload(bucket)
        {
            tracing::error!(bucket = %bucket, error = %e, "topic rules could not be reloaded after a change");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Identity, Role};

    const WRITE_MODES: [WriteMode; 4] = [WriteMode::SingleAuth, WriteMode::SingleOpen, WriteMode::AppendAuth, WriteMode::AppendOpen];
    const READ_MODES: [ReadMode; 3] = [ReadMode::Auth, ReadMode::Open, ReadMode::Public];
    const OPS: [TopicOp; 4] = [TopicOp::Read, TopicOp::Create, TopicOp::Overwrite, TopicOp::Delete];

    fn rule(write: WriteMode, read: ReadMode) -> TopicRule {
        TopicRule { bucket: "b".into(), topic: "inbox".into(), write, read, content_addressed: false, max_size: 0, content_types: vec![] }
    }

    fn identity(tenant: &str, name: &str, role: Role) -> Identity {
        Identity { tenant: tenant.into(), user: name.into(), access_key: format!("K-{tenant}-{name}"), role, root: false }
    }

    fn user(tenant: &str, name: &str, role: Role) -> Principal {
        Principal::Key(identity(tenant, name, role))
    }

    /// Everyone who might call: the owner, their tenant's other users of each role, another
    /// tenant's user with the owner's name, root and anonymous.
    fn callers() -> Vec<(&'static str, Principal)> {
        vec![
            ("owner", user("a", "alice", Role::Reader)),
            ("owner-writer", user("a", "alice", Role::Writer)),
            ("same-tenant writer", user("a", "bob", Role::Writer)),
            ("same-tenant admin", user("a", "carol", Role::Admin)),
            ("namesake in another tenant", user("b", "alice", Role::Admin)),
            ("root", Principal::Key(Identity { root: true, ..identity("root", "root", Role::Admin) })),
            ("anonymous", Principal::Anonymous),
        ]
    }

    #[test]
    fn keys_locate_their_topic_owner_and_name() {
        let rules =
            vec![rule(WriteMode::SingleAuth, ReadMode::Auth), TopicRule { topic: "inbox/urgent".into(), ..rule(WriteMode::AppendOpen, ReadMode::Auth) }];
        let t = locate(&rules, "inbox/alice/2026/x.json").unwrap();
        assert_eq!((t.rule.topic.as_str(), t.owner, t.name), ("inbox", "alice", "2026/x.json"));
        let t = locate(&rules, "inbox/urgent/bob/m1").unwrap();
        assert_eq!((t.rule.topic.as_str(), t.owner, t.name), ("inbox/urgent", "bob", "m1"));
        let t = locate(&rules, "inbox/alice").unwrap();
        assert_eq!((t.owner, t.name), ("alice", ""));
        assert!(locate(&rules, "inboxes/alice/x").is_none());
        assert!(locate(&rules, "inbox").is_none());
        assert!(locate(&rules, "other/alice/x").is_none());
        assert!(listing_topic(&rules, "inbox/").is_some());
        assert!(listing_topic(&rules, "inbo").is_none());
    }

    /// Exhaustively, over every rule combination and every caller: no one but nobody
    /// overwrites or deletes under an append topic; only the owner writes under an `-auth`
    /// topic; `-open` topics take writes from any signed caller, never anonymous ones.
    #[test]
    fn every_rule_combination_keeps_its_promises() {
        for write in WRITE_MODES {
            for read in READ_MODES {
                let r = rule(write, read);
                let t = TopicKey { rule: &r, owner: "alice", name: "m1" };
                for (who, p) in callers() {
                    let owner = who.starts_with("owner");
                    for op in OPS {
                        let got = decide(&p, "a", &t, op);
                        let append = matches!(write, WriteMode::AppendAuth | WriteMode::AppendOpen);
                        let open_write = matches!(write, WriteMode::SingleOpen | WriteMode::AppendOpen);
                        let want = match op {
                            TopicOp::Read => match read {
                                ReadMode::Public => true,
                                ReadMode::Open => who != "anonymous",
                                ReadMode::Auth => owner || who == "same-tenant admin" || who == "root",
                            },
                            TopicOp::Overwrite | TopicOp::Delete if append => false,
                            _ if open_write => who != "anonymous",
                            _ => owner,
                        };
                        assert_eq!(got.is_ok(), want, "{write:?}/{read:?}: {who} {op:?} -> {got:?}");
                        if append && matches!(op, TopicOp::Overwrite | TopicOp::Delete) {
                            assert_eq!(got, Err(TopicDenial::Immutable));
                        }
                    }
                }
                // A write must name an object under an owner.
                for t in [TopicKey { rule: &r, owner: "alice", name: "" }, TopicKey { rule: &r, owner: "", name: "" }] {
                    assert_eq!(decide(&user("a", "alice", Role::Writer), "a", &t, TopicOp::Create), Err(TopicDenial::NoName));
                }
            }
        }
    }
}
