//! What counts as a well-formed name, key or duration, wherever one comes
//! from: component names, fact keys, Kubernetes API groups, and the Go
//! durations Flux's CRDs accept. A bottom module: it uses nothing else in
//! cairn.

/// Whether `name` can name a component (and its output directory): a DNS
/// label, so it is also safe as a path segment and a Kubernetes name.
pub fn component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Whether `key` is a fact key: lower-case dot-separated words
/// (`gateway.name`), at most 128 characters.
pub fn fact_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Whether `group` is a Kubernetes API group: a lower-case DNS subdomain.
pub fn api_group(group: &str) -> bool {
    !group.is_empty()
        && group.len() <= 253
        && group.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Why `interval` is not a Go duration as Flux's CRDs accept it (`1m`,
/// `1h30m`, `90s`), if it is not.
pub fn flux_duration(interval: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{interval:?} is not a duration Flux accepts; use a number and a unit (ms, s, m, h), e.g. 1m, 10m or 1h30m"
        )
    };
    let mut rest = interval;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number = &rest[..digits];
        let valid_number = !number.is_empty()
            && !number.starts_with('.')
            && !number.ends_with('.')
            && number.matches('.').count() <= 1;
        if !valid_number {
            return Err(bad());
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u))
            .ok_or_else(bad)?;
        rest = &rest[unit.len()..];
    }
    Ok(())
}

/// A path as Kustomizations write it, compared without `./`, empty or `.`
/// segments and a trailing `/`.
pub fn normal_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a stack or catalog source names a remote repository (a URL other
/// than `file://`, or scp-like `git@host:org/repo`) rather than a local path.
pub fn remote_source(spec: &str) -> bool {
    !spec.starts_with("file://") && (spec.contains("://") || scp_like(spec))
}

/// `git@host:org/repo`: a colon before any slash, and not a Windows drive.
pub fn scp_like(spec: &str) -> bool {
    match (spec.find(':'), spec.find('/')) {
        (Some(colon), slash) => colon > 1 && slash.is_none_or(|s| colon < s),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name check, the name, and whether it passes.
    type Case = (fn(&str) -> bool, &'static str, bool);

    #[test]
    fn names_keys_and_groups() {
        let cases: &[Case] = &[
            (component, "cert-manager", true),
            (component, "a1", true),
            (component, "-a", false),
            (component, "a-", false),
            (component, "A", false),
            (component, "a.b", false),
            (component, "", false),
            (fact_key, "gateway.http-listener", true),
            (fact_key, "a..b", false),
            (fact_key, "A.b", false),
            (api_group, "cert-manager.io", true),
            (api_group, "gateway.networking.k8s.io", true),
            (api_group, "Cert.io", false),
            (api_group, "a..io", false),
        ];
        for (check, input, want) in cases {
            assert_eq!(check(input), *want, "{input:?}");
        }
    }

    #[test]
    fn durations_follow_fluxs_crd_pattern() {
        for ok in ["1m", "10m0s", "1h30m", "1.5h", "500ms", "90s"] {
            assert!(flux_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "10", "1d", "m", "5 m", "1.m", "-1m", "1m2"] {
            assert!(flux_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_compare_without_dots_and_slashes() {
        assert_eq!(normal_path("./clusters/prod/"), "clusters/prod");
        assert_eq!(normal_path("."), "");
        assert_eq!(normal_path("a//./b"), "a/b");
    }
}
