//! Tenants, their users and access keys.

use super::*;

pub(super) fn user_key(tenant: &str, name: &str) -> Vec<u8> {
    object_key(tenant, name)
}

impl SledStore {
    pub(super) fn tenant_create(&self, record: &TenantRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            if tenants.get(record.name.as_bytes())?.is_some() {
                return abort(Error::AlreadyExists);
            }
            tenants.insert(record.name.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn tenant_get(&self, name: &str) -> Result<Option<TenantRecord>> {
        self.tenants.get(name)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn tenant_list(&self) -> Result<Vec<TenantRecord>> {
        self.tenants.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn tenant_set_quota(&self, name: &str, quota: Quota, audit: Option<&AuditEntry>) -> Result<TenantRecord> {
        let row = self.audit_row(audit)?;
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            let Some(raw) = tenants.get(name.as_bytes())? else {
                return abort(Error::NotFound);
            };
            let mut rec: TenantRecord = tx_decode(&raw)?;
            rec.quota = quota;
            tenants.insert(name.as_bytes(), encode(&rec))?;
            tx_audit(audit, row.as_ref())?;
            Ok(rec)
        }))
    }

    pub(super) fn tenant_usage(&self, name: &str) -> Result<(u64, u64)> {
        Ok(self.writes.lock([name]).usage(name))
    }

    pub(super) fn tenant_delete(&self, name: &str, audit: Option<&AuditEntry>) -> Result<()> {
        if self.users.scan_prefix(user_key(name, "")).next().is_some() {
            return Err(Error::InUse("the tenant still has users"));
        }
        if self.bucket_list()?.iter().any(|b| b.tenant == name) {
            return Err(Error::InUse("the tenant still owns buckets"));
        }
        let row = self.audit_row(audit)?;
        flatten((&self.tenants, &self.audit).transaction(|(tenants, audit)| {
            if tenants.remove(name.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn user_create(&self, record: &UserRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let ukey = user_key(&record.tenant, &record.name);
        let value = encode(record);
        flatten((&self.tenants, &self.users, &self.audit).transaction(|(tenants, users, audit)| {
            if tenants.get(record.tenant.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            if users.get(ukey.as_slice())?.is_some() {
                return abort(Error::AlreadyExists);
            }
            users.insert(ukey.as_slice(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn user_get(&self, tenant: &str, name: &str) -> Result<Option<UserRecord>> {
        self.users.get(user_key(tenant, name))?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn user_list(&self) -> Result<Vec<UserRecord>> {
        self.users.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn user_delete(&self, tenant: &str, name: &str, audit: Option<&AuditEntry>) -> Result<Vec<String>> {
        let keys: Vec<String> = self.key_list()?.into_iter().filter(|k| k.tenant == tenant && k.user == name).map(|k| k.access_key).collect();
        let row = self.audit_row(audit)?;
        let ukey = user_key(tenant, name);
        flatten((&self.users, &self.keys, &self.audit).transaction(|(users, key_tree, audit)| {
            if users.remove(ukey.as_slice())?.is_none() {
                return abort(Error::NotFound);
            }
            for k in &keys {
                key_tree.remove(k.as_bytes())?;
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))?;
        Ok(keys)
    }

    pub(super) fn key_put(&self, record: &KeyRecord, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        let value = encode(record);
        let ukey = user_key(&record.tenant, &record.user);
        flatten((&self.users, &self.keys, &self.audit).transaction(|(users, keys, audit)| {
            if users.get(ukey.as_slice())?.is_none() {
                return abort(Error::NotFound);
            }
            keys.insert(record.access_key.as_bytes(), value.as_slice())?;
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }

    pub(super) fn key_get(&self, access_key: &str) -> Result<Option<KeyRecord>> {
        self.keys.get(access_key)?.map(|v| decode(&v)).transpose()
    }

    pub(super) fn key_list(&self) -> Result<Vec<KeyRecord>> {
        self.keys.iter().values().map(|v| decode(&v?)).collect()
    }

    pub(super) fn key_delete(&self, access_key: &str, audit: Option<&AuditEntry>) -> Result<()> {
        let row = self.audit_row(audit)?;
        flatten((&self.keys, &self.audit).transaction(|(keys, audit)| {
            if keys.remove(access_key.as_bytes())?.is_none() {
                return abort(Error::NotFound);
            }
            tx_audit(audit, row.as_ref())?;
            Ok(())
        }))
    }
}
