//! Image references as people write them (`nginx`, `ghcr.io/o/r:1.2`, `host:5000/a/b@sha256:…`),
//! normalised the way Docker and cosign do, so the same image always has the same name.

use std::fmt;

/// The registry that names without a host refer to.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host; `docker.io` itself serves no registry API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry host, with its port if any (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// The repository path inside the registry (`library/nginx`).
    pub repository: String,
    /// The tag, if one was given (`latest` when neither a tag nor a digest was given).
    pub tag: Option<String>,
    /// The digest, if one was given; it wins over the tag.
    pub digest: Option<Digest>,
}

/// A content digest, `sha256:<64 lowercase hex>`; the only algorithm cosign signs with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Why a reference or digest does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error(
        "image reference '{reference}': {why} (expected e.g. nginx, ghcr.io/org/app:1.0 or registry:5000/app@sha256:<64 hex>)"
    )]
    Invalid { reference: String, why: String },
    #[error("digest '{0}' is not of the form sha256:<64 lowercase hex digits>")]
    Digest(String),
}

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        match s.strip_prefix("sha256:") {
            Some(hex)
                if hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(Self(s.to_owned()))
            }
            _ => Err(ReferenceError::Digest(s.to_owned())),
        }
    }

    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ImageRef {
    /// Parses and normalises a reference: a missing registry means Docker Hub, a single-name
    /// Docker Hub repository lives under `library/`, and a missing tag and digest means `latest`.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        let r = reference.trim();
        if r.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let invalid = |why: &str| ReferenceError::Invalid {
            reference: r.to_owned(),
            why: why.to_owned(),
        };
        let (name_tag, digest) = match r.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (r, None),
        };
        // A tag is after the last ':' that follows the last '/', so a port stays in the host.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(invalid(&format!(
                "tag '{t}' must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"
            )));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(invalid("registry host is empty or malformed"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(invalid(&format!(
                "repository '{repository}' must be lowercase path components of [a-z0-9._-]"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, None) => Some("latest".to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host the registry API is served from.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to ask the registry for: the digest if pinned, else the tag.
    pub fn reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.as_str(),
            (None, Some(t)) => t,
            (None, None) => "latest",
        }
    }

    /// The same repository at another tag or digest.
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn short_names_are_docker_hub_library() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = ImageRef::parse("bitnami/redis:7").unwrap();
        assert_eq!(r.to_string(), "docker.io/bitnami/redis:7");
        let r = ImageRef::parse("index.docker.io/library/nginx:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx:1");
    }

    #[test]
    fn ports_and_nested_paths_stay_in_place() {
        let r = ImageRef::parse("localhost:5000/a/b/c:v1").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "a/b/c");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = ImageRef::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.reference(), "latest");
        let r = ImageRef::parse("ghcr.io/org/team/app").unwrap();
        assert_eq!(r.repository, "org/team/app");
    }

    #[test]
    fn digest_wins_over_tag() {
        let r = ImageRef::parse(&format!("reg.example:443/app:1.0@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.reference(), D);
        let r = ImageRef::parse(&format!("app@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), format!("docker.io/library/app@{D}"));
    }

    #[test]
    fn bad_references_say_why() {
        assert_eq!(ImageRef::parse(" "), Err(ReferenceError::Empty));
        assert!(matches!(
            ImageRef::parse("app@sha256:abc"),
            Err(ReferenceError::Digest(_))
        ));
        assert!(matches!(
            ImageRef::parse("Upper/Case"),
            Err(ReferenceError::Invalid { .. })
        ));
        assert!(matches!(
            ImageRef::parse("app:-bad"),
            Err(ReferenceError::Invalid { .. })
        ));
        assert!(ImageRef::parse("a//b").is_err());
        assert!(ImageRef::parse("host:5000/").is_err());
    }

    #[test]
    fn digest_of_bytes() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(D).unwrap().hex().len(), 64);
    }
}
