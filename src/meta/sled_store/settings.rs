//! The gateway's own settings: topic rules, rate-limit overrides, named values.

use super::*;

impl SledStore {
    pub(super) fn topic_put(&self, rule: &TopicRule, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(rule);
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            topics.insert(object_key(&rule.bucket, &rule.topic), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn topic_delete(&self, bucket: &str, topic: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        flatten((&self.topics, &self.audit).transaction(|(topics, audit)| {
            if topics.remove(object_key(bucket, topic))?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn topic_list(&self) -> Result<Vec<TopicRule>> {
        self.topics.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn limits_all(&self) -> Result<Vec<(String, Rates)>> {
        self.limits
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    pub(super) fn limits_set(&self, subject: &str, rates: Option<&Rates>, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = rates.map(encode);
        flatten((&self.limits, &self.audit).transaction(|(limits, audit)| {
            match &value {
                Some(v) => limits.insert(subject.as_bytes(), v.as_slice())?,
                None => limits.remove(subject.as_bytes())?,
            };
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn setting_get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.settings.get(name)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub(super) fn setting_put(&self, name: &str, value: &str) -> Result<()> {
        self.settings.insert(name, value.as_bytes())?;
        Ok(())
    }
}
