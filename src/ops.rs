//! The S3 operations, listed once.
//!
//! One table gives each operation s3s routes its name (as s3s's `S3Operation::name` spells
//! it), who may call it ([`Access`]), whether it writes, what it does under a bucket's topics
//! ([`TopicAction`]) and its metrics label; [`Operation`] and its methods are generated from it,
//! so `policy`, `obs`, the audit log and the server share one list.
//!
//! Every operation of s3s 0.14 is in the table (a unit test walks s3s's list), so none gets
//! a class by default: a name the table lacks ([`Operation::from_name`] is `None`) is refused
//! by the access check. Each entry names its s3s input type, which must exist and be the
//! operation's name followed by `Input`: a misspelt entry does not compile.

/// What an operation does, for the access decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// ListBuckets: any signed request (the listing is filtered by tenant).
    ListBuckets,
    /// Reads that a `public-read` bucket opens to anyone.
    PublicRead,
    /// Other reads: the tenant's users.
    Read,
    /// Object writes: the tenant's writers and admins.
    Write,
    /// Bucket creation, deletion and settings: the tenant's admins.
    Manage,
}

/// What an operation does under a bucket's topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAction {
    /// Reads the key it names.
    Read,
    /// Deletes the key it names.
    Delete,
    /// Writes the key it names: a create or an overwrite, depending on whether it exists.
    Write,
    /// Lists keys, which the topics' read modes then filter.
    List,
}

/// The operation an s3s input type is the input of.
pub trait OperationInput {
    /// The operation this type is the input of.
    const OPERATION: Operation;
}

/// Whether two strings are equal, in a constant (`str::eq` is not `const`).
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Generates [`Operation`] from two lists: the operations tollgate classifies (access class,
/// whether they write, topic action; labelled by name in metrics), and the ones only an admin
/// may call (labelled `other`).
macro_rules! operations {
    (
        classified { $($name:ident($input:ident) => $access:ident, $moves:ident, $topic:tt;)* }
        admin_only { $($other:ident($other_input:ident) => $other_moves:ident;)* }
    ) => {
        /// An S3 operation, as s3s routes it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(#[doc = concat!("`", stringify!($name), "`")] $name,)*
            $(#[doc = concat!("`", stringify!($other), "` (admin-only)")] $other,)*
        }

        impl Operation {
            /// Every operation, classified ones first.
            pub const ALL: &[Operation] = &[$(Self::$name,)* $(Self::$other,)*];

            /// The operation s3s names `name`; `None` for one the table lacks.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(Self::$name),)*
                    $(stringify!($other) => Some(Self::$other),)*
                    _ => None,
                }
            }

            /// The S3 name, as s3s and the audit log spell it.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    $(Self::$other => stringify!($other),)*
                }
            }

            /// Who may call it.
            #[must_use]
            pub const fn access(self) -> Access {
                match self {
                    $(Self::$name => Access::$access,)*
                    $(Self::$other => Access::Manage,)*
                }
            }

            /// Whether it sends data to the gateway (charged to the write limits) rather
            /// than reading from it.
            #[must_use]
            pub const fn writes(self) -> bool {
                match self {
                    $(Self::$name => operations!(@writes $moves),)*
                    $(Self::$other => operations!(@writes $other_moves),)*
                }
            }

            /// What it does under a bucket's topics; `None` for an operation they leave alone.
            #[must_use]
            pub const fn topic_action(self) -> Option<TopicAction> {
                match self {
                    $(Self::$name => operations!(@topic $topic),)*
                    $(Self::$other => None,)*
                }
            }

            /// Its metrics label: the name of a classified operation, `other` for the rest
            /// (which s3s answers NotImplemented).
            #[must_use]
            pub const fn metric_label(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                    $(Self::$other => "other",)*
                }
            }
        }

        $(impl OperationInput for s3s::dto::$input {
            const OPERATION: Operation = Operation::$name;
        })*
        $(impl OperationInput for s3s::dto::$other_input {
            const OPERATION: Operation = Operation::$other;
        })*

        const _: () = {
            $(assert!(same(concat!(stringify!($name), "Input"), stringify!($input)), concat!(stringify!($input), " is not the input of ", stringify!($name)));)*
            $(assert!(same(concat!(stringify!($other), "Input"), stringify!($other_input)), concat!(stringify!($other_input), " is not the input of ", stringify!($other)));)*
        };
    };
    (@writes writes) => { true };
    (@writes reads) => { false };
    (@topic _) => { None };
    (@topic $action:ident) => { Some(TopicAction::$action) };
}

operations! {
    // Topic `_`: the topics leave the operation alone.
    classified {
        // operation(s3s input)                                                  access       moves    topic
        AbortMultipartUpload(AbortMultipartUploadInput)                       => Write,       writes,  Write;
        CompleteMultipartUpload(CompleteMultipartUploadInput)                 => Write,       writes,  Write;
        CopyObject(CopyObjectInput)                                           => Write,       writes,  Write;
        CreateBucket(CreateBucketInput)                                       => Manage,      writes,  _;
        CreateMultipartUpload(CreateMultipartUploadInput)                     => Write,       writes,  Write;
        DeleteBucket(DeleteBucketInput)                                       => Manage,      writes,  _;
        DeleteBucketCors(DeleteBucketCorsInput)                               => Manage,      writes,  _;
        DeleteBucketOwnershipControls(DeleteBucketOwnershipControlsInput)     => Manage,      writes,  _;
        DeleteBucketPolicy(DeleteBucketPolicyInput)                           => Manage,      writes,  _;
        DeleteBucketTagging(DeleteBucketTaggingInput)                         => Manage,      writes,  _;
        DeleteObject(DeleteObjectInput)                                       => Write,       writes,  Delete;
        DeleteObjectTagging(DeleteObjectTaggingInput)                         => Write,       writes,  Write;
        DeleteObjects(DeleteObjectsInput)                                     => Write,       writes,  _;
        DeletePublicAccessBlock(DeletePublicAccessBlockInput)                 => Manage,      writes,  _;
        GetBucketAcl(GetBucketAclInput)                                       => Read,        reads,   _;
        GetBucketCors(GetBucketCorsInput)                                     => Read,        reads,   _;
        GetBucketEncryption(GetBucketEncryptionInput)                         => Read,        reads,   _;
        GetBucketLifecycleConfiguration(GetBucketLifecycleConfigurationInput) => Read,        reads,   _;
        GetBucketLocation(GetBucketLocationInput)                             => PublicRead,  reads,   _;
        GetBucketOwnershipControls(GetBucketOwnershipControlsInput)           => Read,        reads,   _;
        GetBucketPolicy(GetBucketPolicyInput)                                 => Read,        reads,   _;
        GetBucketPolicyStatus(GetBucketPolicyStatusInput)                     => Read,        reads,   _;
        GetBucketTagging(GetBucketTaggingInput)                               => Read,        reads,   _;
        GetBucketVersioning(GetBucketVersioningInput)                         => Read,        reads,   _;
        GetBucketWebsite(GetBucketWebsiteInput)                               => Read,        reads,   _;
        GetObject(GetObjectInput)                                             => PublicRead,  reads,   Read;
        GetObjectAcl(GetObjectAclInput)                                       => Read,        reads,   Read;
        GetObjectAttributes(GetObjectAttributesInput)                         => PublicRead,  reads,   Read;
        GetObjectLegalHold(GetObjectLegalHoldInput)                           => Read,        reads,   Read;
        GetObjectLockConfiguration(GetObjectLockConfigurationInput)           => Read,        reads,   _;
        GetObjectRetention(GetObjectRetentionInput)                           => Read,        reads,   Read;
        GetObjectTagging(GetObjectTaggingInput)                               => Read,        reads,   Read;
        GetObjectTorrent(GetObjectTorrentInput)                               => PublicRead,  reads,   Read;
        GetPublicAccessBlock(GetPublicAccessBlockInput)                       => Read,        reads,   _;
        HeadBucket(HeadBucketInput)                                           => PublicRead,  reads,   _;
        HeadObject(HeadObjectInput)                                           => PublicRead,  reads,   Read;
        ListBuckets(ListBucketsInput)                                         => ListBuckets, reads,   _;
        ListMultipartUploads(ListMultipartUploadsInput)                       => Read,        reads,   _;
        ListObjectVersions(ListObjectVersionsInput)                           => Read,        reads,   List;
        ListObjects(ListObjectsInput)                                         => PublicRead,  reads,   List;
        ListObjectsV2(ListObjectsV2Input)                                     => PublicRead,  reads,   List;
        ListParts(ListPartsInput)                                             => Read,        reads,   Write;
        PutBucketAcl(PutBucketAclInput)                                       => Manage,      writes,  _;
        PutBucketCors(PutBucketCorsInput)                                     => Manage,      writes,  _;
        PutBucketOwnershipControls(PutBucketOwnershipControlsInput)           => Manage,      writes,  _;
        PutBucketPolicy(PutBucketPolicyInput)                                 => Manage,      writes,  _;
        PutBucketTagging(PutBucketTaggingInput)                               => Manage,      writes,  _;
        PutBucketVersioning(PutBucketVersioningInput)                         => Manage,      writes,  _;
        // A browser form upload: a PutObject whose key is in the form (the access check
        // decides it in the `post_object` hook, where the key is known).
        PostObject(PostObjectInput)                                           => Write,       writes,  Write;
        PutObject(PutObjectInput)                                             => Write,       writes,  Write;
        PutObjectAcl(PutObjectAclInput)                                       => Write,       writes,  Write;
        PutObjectLegalHold(PutObjectLegalHoldInput)                           => Write,       writes,  Write;
        PutObjectLockConfiguration(PutObjectLockConfigurationInput)           => Manage,      writes,  _;
        PutObjectRetention(PutObjectRetentionInput)                           => Write,       writes,  Write;
        PutObjectTagging(PutObjectTaggingInput)                               => Write,       writes,  Write;
        PutPublicAccessBlock(PutPublicAccessBlockInput)                       => Manage,      writes,  _;
        UploadPart(UploadPartInput)                                           => Write,       writes,  Write;
        UploadPartCopy(UploadPartCopyInput)                                   => Write,       writes,  Write;
    }
    // Only an admin passes the access check of these; s3s then answers them 501 NotImplemented.
    admin_only {
        CreateBucketMetadataTableConfiguration(CreateBucketMetadataTableConfigurationInput)           => writes;
        CreateSession(CreateSessionInput)                                                             => writes;
        DeleteBucketAnalyticsConfiguration(DeleteBucketAnalyticsConfigurationInput)                   => writes;
        DeleteBucketEncryption(DeleteBucketEncryptionInput)                                           => writes;
        DeleteBucketIntelligentTieringConfiguration(DeleteBucketIntelligentTieringConfigurationInput) => writes;
        DeleteBucketInventoryConfiguration(DeleteBucketInventoryConfigurationInput)                   => writes;
        DeleteBucketLifecycle(DeleteBucketLifecycleInput)                                             => writes;
        DeleteBucketMetadataTableConfiguration(DeleteBucketMetadataTableConfigurationInput)           => writes;
        DeleteBucketMetricsConfiguration(DeleteBucketMetricsConfigurationInput)                       => writes;
        DeleteBucketReplication(DeleteBucketReplicationInput)                                         => writes;
        DeleteBucketWebsite(DeleteBucketWebsiteInput)                                                 => writes;
        GetBucketAccelerateConfiguration(GetBucketAccelerateConfigurationInput)                       => reads;
        GetBucketAnalyticsConfiguration(GetBucketAnalyticsConfigurationInput)                         => reads;
        GetBucketIntelligentTieringConfiguration(GetBucketIntelligentTieringConfigurationInput)       => reads;
        GetBucketInventoryConfiguration(GetBucketInventoryConfigurationInput)                         => reads;
        GetBucketLogging(GetBucketLoggingInput)                                                       => reads;
        GetBucketMetadataTableConfiguration(GetBucketMetadataTableConfigurationInput)                 => reads;
        GetBucketMetricsConfiguration(GetBucketMetricsConfigurationInput)                             => reads;
        GetBucketNotificationConfiguration(GetBucketNotificationConfigurationInput)                   => reads;
        GetBucketReplication(GetBucketReplicationInput)                                               => reads;
        GetBucketRequestPayment(GetBucketRequestPaymentInput)                                         => reads;
        ListBucketAnalyticsConfigurations(ListBucketAnalyticsConfigurationsInput)                     => reads;
        ListBucketIntelligentTieringConfigurations(ListBucketIntelligentTieringConfigurationsInput)   => reads;
        ListBucketInventoryConfigurations(ListBucketInventoryConfigurationsInput)                     => reads;
        ListBucketMetricsConfigurations(ListBucketMetricsConfigurationsInput)                         => reads;
        ListDirectoryBuckets(ListDirectoryBucketsInput)                                               => reads;
        PutBucketAccelerateConfiguration(PutBucketAccelerateConfigurationInput)                       => writes;
        PutBucketAnalyticsConfiguration(PutBucketAnalyticsConfigurationInput)                         => writes;
        PutBucketEncryption(PutBucketEncryptionInput)                                                 => writes;
        PutBucketIntelligentTieringConfiguration(PutBucketIntelligentTieringConfigurationInput)       => writes;
        PutBucketInventoryConfiguration(PutBucketInventoryConfigurationInput)                         => writes;
        PutBucketLifecycleConfiguration(PutBucketLifecycleConfigurationInput)                         => writes;
        PutBucketLogging(PutBucketLoggingInput)                                                       => writes;
        PutBucketMetricsConfiguration(PutBucketMetricsConfigurationInput)                             => writes;
        PutBucketNotificationConfiguration(PutBucketNotificationConfigurationInput)                   => writes;
        PutBucketReplication(PutBucketReplicationInput)                                               => writes;
        PutBucketRequestPayment(PutBucketRequestPaymentInput)                                         => writes;
        PutBucketWebsite(PutBucketWebsiteInput)                                                       => writes;
        RestoreObject(RestoreObjectInput)                                                             => writes;
        SelectObjectContent(SelectObjectContentInput)                                                 => reads;
        WriteGetObjectResponse(WriteGetObjectResponseInput)                                           => writes;
    }
}

impl Operation {
    /// The IAM action a bucket policy names this operation by (`s3:GetObject`); `versioned`:
    /// the request names a version id, which AWS checks as the `...Version` action.
    /// CopyObject and UploadPartCopy are the write (`s3:PutObject`); their source's read
    /// (`s3:GetObject`) is a second decision.
    #[must_use]
    pub const fn iam_action(self, versioned: bool) -> &'static str {
        match self {
            Self::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Self::CompleteMultipartUpload
            | Self::CopyObject
            | Self::CreateMultipartUpload
            | Self::PutObject
            | Self::UploadPart
            | Self::UploadPartCopy
            | Self::PostObject => "s3:PutObject",
            Self::CreateBucket => "s3:CreateBucket",
            Self::DeleteBucket => "s3:DeleteBucket",
            Self::DeleteObject | Self::DeleteObjects if versioned => "s3:DeleteObjectVersion",
            Self::DeleteObject | Self::DeleteObjects => "s3:DeleteObject",
            Self::DeleteObjectTagging if versioned => "s3:DeleteObjectVersionTagging",
            Self::DeleteObjectTagging => "s3:DeleteObjectTagging",
            Self::GetBucketAcl => "s3:GetBucketAcl",
            Self::GetBucketCors => "s3:GetBucketCORS",
            Self::GetBucketEncryption => "s3:GetEncryptionConfiguration",
            Self::GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            Self::GetBucketLocation => "s3:GetBucketLocation",
            Self::GetBucketPolicy => "s3:GetBucketPolicy",
            Self::GetBucketTagging => "s3:GetBucketTagging",
            Self::GetBucketVersioning => "s3:GetBucketVersioning",
            Self::GetBucketWebsite => "s3:GetBucketWebsite",
            Self::GetObject | Self::HeadObject if versioned => "s3:GetObjectVersion",
            Self::GetObject | Self::HeadObject | Self::SelectObjectContent => "s3:GetObject",
            Self::GetObjectAcl if versioned => "s3:GetObjectVersionAcl",
            Self::GetObjectAcl => "s3:GetObjectAcl",
            Self::GetObjectAttributes if versioned => "s3:GetObjectVersionAttributes",
            Self::GetObjectAttributes => "s3:GetObjectAttributes",
            Self::GetObjectLegalHold => "s3:GetObjectLegalHold",
            Self::GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
            Self::GetObjectRetention => "s3:GetObjectRetention",
            Self::GetObjectTagging if versioned => "s3:GetObjectVersionTagging",
            Self::GetObjectTagging => "s3:GetObjectTagging",
            Self::GetObjectTorrent if versioned => "s3:GetObjectVersionTorrent",
            Self::GetObjectTorrent => "s3:GetObjectTorrent",
            Self::HeadBucket | Self::ListObjects | Self::ListObjectsV2 => "s3:ListBucket",
            Self::ListBuckets | Self::ListDirectoryBuckets => "s3:ListAllMyBuckets",
            Self::ListMultipartUploads => "s3:ListBucketMultipartUploads",
            Self::ListObjectVersions => "s3:ListBucketVersions",
            Self::ListParts => "s3:ListMultipartUploadParts",
            Self::PutBucketAcl => "s3:PutBucketAcl",
            Self::PutBucketVersioning => "s3:PutBucketVersioning",
            Self::PutObjectAcl if versioned => "s3:PutObjectVersionAcl",
            Self::PutObjectAcl => "s3:PutObjectAcl",
            Self::PutObjectLegalHold => "s3:PutObjectLegalHold",
            Self::PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
            Self::PutObjectRetention => "s3:PutObjectRetention",
            Self::PutObjectTagging if versioned => "s3:PutObjectVersionTagging",
            Self::PutObjectTagging => "s3:PutObjectTagging",
            Self::CreateBucketMetadataTableConfiguration => "s3:CreateBucketMetadataTableConfiguration",
            Self::CreateSession => "s3:CreateSession",
            // AWS checks a configuration's delete as its put.
            Self::DeleteBucketAnalyticsConfiguration | Self::PutBucketAnalyticsConfiguration => "s3:PutAnalyticsConfiguration",
            Self::DeleteBucketCors | Self::PutBucketCors => "s3:PutBucketCORS",
            Self::DeleteBucketEncryption | Self::PutBucketEncryption => "s3:PutEncryptionConfiguration",
            Self::DeleteBucketIntelligentTieringConfiguration | Self::PutBucketIntelligentTieringConfiguration => "s3:PutIntelligentTieringConfiguration",
            Self::DeleteBucketInventoryConfiguration | Self::PutBucketInventoryConfiguration => "s3:PutInventoryConfiguration",
            Self::DeleteBucketLifecycle | Self::PutBucketLifecycleConfiguration => "s3:PutLifecycleConfiguration",
            Self::DeleteBucketMetadataTableConfiguration => "s3:DeleteBucketMetadataTableConfiguration",
            Self::DeleteBucketMetricsConfiguration | Self::PutBucketMetricsConfiguration => "s3:PutMetricsConfiguration",
            Self::DeleteBucketOwnershipControls | Self::PutBucketOwnershipControls => "s3:PutBucketOwnershipControls",
            Self::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            Self::DeleteBucketReplication | Self::PutBucketReplication => "s3:PutReplicationConfiguration",
            Self::DeleteBucketTagging | Self::PutBucketTagging => "s3:PutBucketTagging",
            Self::DeleteBucketWebsite => "s3:DeleteBucketWebsite",
            Self::DeletePublicAccessBlock | Self::PutPublicAccessBlock => "s3:PutBucketPublicAccessBlock",
            Self::GetBucketAccelerateConfiguration => "s3:GetAccelerateConfiguration",
            Self::GetBucketAnalyticsConfiguration | Self::ListBucketAnalyticsConfigurations => "s3:GetAnalyticsConfiguration",
            Self::GetBucketIntelligentTieringConfiguration | Self::ListBucketIntelligentTieringConfigurations => "s3:GetIntelligentTieringConfiguration",
            Self::GetBucketInventoryConfiguration | Self::ListBucketInventoryConfigurations => "s3:GetInventoryConfiguration",
            Self::GetBucketLogging => "s3:GetBucketLogging",
            Self::GetBucketMetadataTableConfiguration => "s3:GetBucketMetadataTableConfiguration",
            Self::GetBucketMetricsConfiguration | Self::ListBucketMetricsConfigurations => "s3:GetMetricsConfiguration",
            Self::GetBucketNotificationConfiguration => "s3:GetBucketNotification",
            Self::GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
            Self::GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
            Self::GetBucketReplication => "s3:GetReplicationConfiguration",
            Self::GetBucketRequestPayment => "s3:GetBucketRequestPayment",
            Self::GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
            Self::PutBucketAccelerateConfiguration => "s3:PutAccelerateConfiguration",
            Self::PutBucketLogging => "s3:PutBucketLogging",
            Self::PutBucketNotificationConfiguration => "s3:PutBucketNotification",
            Self::PutBucketPolicy => "s3:PutBucketPolicy",
            Self::PutBucketRequestPayment => "s3:PutBucketRequestPayment",
            Self::PutBucketWebsite => "s3:PutBucketWebsite",
            Self::RestoreObject => "s3:RestoreObject",
            // S3 Object Lambda's, not S3's: no bucket policy names it.
            Self::WriteGetObjectResponse => "s3-object-lambda:WriteGetObjectResponse",
        }
    }
}

/// What a request was, as far as the gateway knows when it answers: its metrics label,
/// and the operation its audit entry names if it is refused unauthenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// An S3 request whose operation the access check identified.
    S3(Operation),
    /// `GET /health`.
    Health,
    /// `GET /ready`.
    Ready,
    /// `GET /metrics`.
    Metrics,
    /// The admin API.
    Admin,
    /// The proof API.
    Proofs,
    /// A browser's CORS preflight (`OPTIONS`).
    Preflight,
    /// A web console sign-in (its other requests are counted as what they ask for).
    Console,
    /// Refused before its operation was known (by the signature check, mostly).
    Unidentified,
}

impl RequestKind {
    /// The label of its metrics and of its unauthenticated denials in the audit log.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::S3(op) => op.metric_label(),
            Self::Health => "health",
            Self::Ready => "ready",
            Self::Metrics => "metrics",
            Self::Admin => "admin",
            Self::Proofs => "proofs",
            Self::Preflight => "preflight",
            Self::Console => "console",
            Self::Unidentified => "unauthenticated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation name s3s 0.14.1 routes (the `Operation::name` of each operation in
    /// its `src/ops/generated.rs`); a newer s3s's operations must be added to the table.
    const S3S_OPERATIONS: &[&str] = &[
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateBucket",
        "CreateBucketMetadataTableConfiguration",
        "CreateMultipartUpload",
        "CreateSession",
        "DeleteBucket",
        "DeleteBucketAnalyticsConfiguration",
        "DeleteBucketCors",
        "DeleteBucketEncryption",
        "DeleteBucketIntelligentTieringConfiguration",
        "DeleteBucketInventoryConfiguration",
        "DeleteBucketLifecycle",
        "DeleteBucketMetadataTableConfiguration",
        "DeleteBucketMetricsConfiguration",
        "DeleteBucketOwnershipControls",
        "DeleteBucketPolicy",
        "DeleteBucketReplication",
        "DeleteBucketTagging",
        "DeleteBucketWebsite",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjects",
        "DeletePublicAccessBlock",
        "GetBucketAccelerateConfiguration",
        "GetBucketAcl",
        "GetBucketAnalyticsConfiguration",
        "GetBucketCors",
        "GetBucketEncryption",
        "GetBucketIntelligentTieringConfiguration",
        "GetBucketInventoryConfiguration",
        "GetBucketLifecycleConfiguration",
        "GetBucketLocation",
        "GetBucketLogging",
        "GetBucketMetadataTableConfiguration",
        "GetBucketMetricsConfiguration",
        "GetBucketNotificationConfiguration",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        "GetBucketPolicyStatus",
        "GetBucketReplication",
        "GetBucketRequestPayment",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketWebsite",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectLockConfiguration",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "GetPublicAccessBlock",
        "HeadBucket",
        "HeadObject",
        "ListBucketAnalyticsConfigurations",
        "ListBucketIntelligentTieringConfigurations",
        "ListBucketInventoryConfigurations",
        "ListBucketMetricsConfigurations",
        "ListBuckets",
        "ListDirectoryBuckets",
        "ListMultipartUploads",
        "ListObjectVersions",
        "ListObjects",
        "ListObjectsV2",
        "ListParts",
        "PutBucketAccelerateConfiguration",
        "PutBucketAcl",
        "PutBucketAnalyticsConfiguration",
        "PutBucketCors",
        "PutBucketEncryption",
        "PutBucketIntelligentTieringConfiguration",
        "PutBucketInventoryConfiguration",
        "PutBucketLifecycleConfiguration",
        "PutBucketLogging",
        "PutBucketMetricsConfiguration",
        "PutBucketNotificationConfiguration",
        "PutBucketOwnershipControls",
        "PutBucketPolicy",
        "PutBucketReplication",
        "PutBucketRequestPayment",
        "PutBucketTagging",
        "PutBucketVersioning",
        "PutBucketWebsite",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectLockConfiguration",
        "PutObjectRetention",
        "PutObjectTagging",
        "PutPublicAccessBlock",
        "RestoreObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
        "WriteGetObjectResponse",
        "PostObject",
    ];

    #[test]
    fn every_s3s_operation_is_in_the_table_and_nothing_else() {
        for name in S3S_OPERATIONS {
            assert_eq!(Operation::from_name(name).map(Operation::name), Some(*name), "{name} is not classified");
        }
        assert_eq!(Operation::ALL.len(), S3S_OPERATIONS.len(), "the table holds an operation s3s does not route");
        assert_eq!(Operation::from_name("GetObjects"), None);
    }

    #[test]
    fn operations_are_classified() {
        let access = |name| Operation::from_name(name).map(Operation::access);
        assert_eq!(access("GetObject"), Some(Access::PublicRead));
        assert_eq!(access("GetObjectAttributes"), Some(Access::PublicRead));
        assert_eq!(access("ListMultipartUploads"), Some(Access::Read));
        assert_eq!(access("CompleteMultipartUpload"), Some(Access::Write));
        assert_eq!(access("PostObject"), Some(Access::Write));
        assert_eq!(Operation::PostObject.topic_action(), Some(TopicAction::Write));
        assert_eq!(access("DeleteBucket"), Some(Access::Manage));
        assert_eq!(access("PutBucketLifecycleConfiguration"), Some(Access::Manage));
    }

    #[test]
    fn input_types_name_their_operation() {
        assert_eq!(<s3s::dto::PutObjectInput as OperationInput>::OPERATION, Operation::PutObject);
        assert_eq!(<s3s::dto::GetBucketLoggingInput as OperationInput>::OPERATION, Operation::GetBucketLogging);
    }

    #[test]
    fn iam_actions_follow_aws() {
        let cases = [
            (Operation::GetObject, false, "s3:GetObject"),
            (Operation::GetObject, true, "s3:GetObjectVersion"),
            (Operation::HeadObject, false, "s3:GetObject"),
            (Operation::HeadObject, true, "s3:GetObjectVersion"),
            (Operation::ListObjects, false, "s3:ListBucket"),
            (Operation::ListObjectsV2, false, "s3:ListBucket"),
            (Operation::ListObjectVersions, false, "s3:ListBucketVersions"),
            (Operation::CopyObject, false, "s3:PutObject"),
            (Operation::UploadPart, false, "s3:PutObject"),
            (Operation::CreateMultipartUpload, false, "s3:PutObject"),
            (Operation::CompleteMultipartUpload, false, "s3:PutObject"),
            (Operation::PostObject, false, "s3:PutObject"),
            (Operation::DeleteObjects, false, "s3:DeleteObject"),
            (Operation::DeleteObject, true, "s3:DeleteObjectVersion"),
            (Operation::HeadBucket, false, "s3:ListBucket"),
            (Operation::ListParts, false, "s3:ListMultipartUploadParts"),
            (Operation::DeleteBucketCors, false, "s3:PutBucketCORS"),
            (Operation::GetPublicAccessBlock, false, "s3:GetBucketPublicAccessBlock"),
            (Operation::PutObjectTagging, true, "s3:PutObjectVersionTagging"),
            (Operation::ListBuckets, false, "s3:ListAllMyBuckets"),
        ];
        for (op, versioned, action) in cases {
            assert_eq!(op.iam_action(versioned), action, "{} versioned={versioned}", op.name());
        }
    }

    #[test]
    fn metrics_label_unclassified_operations_other() {
        assert_eq!(Operation::GetObject.metric_label(), "GetObject");
        assert_eq!(Operation::PostObject.metric_label(), "PostObject");
        assert_eq!(Operation::PutBucketLogging.metric_label(), "other");
        assert_eq!(RequestKind::S3(Operation::PutBucketLogging).label(), "other");
        assert_eq!(RequestKind::Unidentified.label(), "unauthenticated");
    }
}
