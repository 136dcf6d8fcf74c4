//! A listening port as mail servers write it: a number, or a TCP service name that they
//! look up with getservbyname(name, "tcp") (Postfix's master.cf `smtp`, `submission`;
//! Exim's `daemon_smtp_ports`, whose default is `smtp`; sendmail's `Port=`). Read from
//! /etc/services, the file behind getservbyname on the hosts we run on.

use std::path::Path;

/// Where getservbyname reads service names.
pub const ETC_SERVICES: &str = "/etc/services";

/// The TCP port `name` means: a number as written, else its line in /etc/services.
pub fn lookup(name: &str) -> Option<u16> {
    lookup_in(Path::new(ETC_SERVICES), name)
}

/// [`lookup`] in another services file. A name the file lacks (or a missing file, as
/// in slim containers without netbase) still gives the mail ports every system
/// assigns the same way.
pub fn lookup_in(services: &Path, name: &str) -> Option<u16> {
    let name = name.trim();
    if let Ok(port) = name.parse() {
        return Some(port);
    }
    let text = std::fs::read_to_string(services).ok();
    text.as_deref()
        .and_then(|t| t.lines().find_map(|l| tcp_port_in_line(l, name)))
        .or_else(|| well_known(name))
}

/// `name port/tcp alias…  # comment`: the port when `name` or an alias matches.
fn tcp_port_in_line(line: &str, name: &str) -> Option<u16> {
    let line = line.split('#').next()?;
    let mut fields = line.split_whitespace();
    let service = fields.next()?;
    let (port, proto) = fields.next()?.split_once('/')?;
    (proto == "tcp" && (service == name || fields.any(|alias| alias == name)))
        .then(|| port.parse().ok())
        .flatten()
}

fn well_known(name: &str) -> Option<u16> {
    match name {
        "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" | "submissions" => Some(465),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn a_number_is_its_own_port() {
        assert_eq!(lookup_in(Path::new("/nonexistent"), "2525"), Some(2525));
        assert_eq!(lookup_in(Path::new("/nonexistent"), " 25 "), Some(25));
    }

    #[test]
    fn a_name_or_alias_is_read_from_the_tcp_line() {
        let f =
            services("# local ports\nmailalt\t2525/udp\nmailalt\t2526/tcp\tmail-alt alt # ours\n");
        assert_eq!(lookup_in(f.path(), "mailalt"), Some(2526));
        assert_eq!(lookup_in(f.path(), "alt"), Some(2526));
        assert_eq!(lookup_in(f.path(), "ours"), None);
    }

    #[test]
    fn the_file_comes_before_the_built_in_mail_ports() {
        let f = services("smtp 2500/tcp mail\n");
        assert_eq!(lookup_in(f.path(), "smtp"), Some(2500));
        assert_eq!(lookup_in(f.path(), "submission"), Some(587));
    }

    #[test]
    fn mail_ports_resolve_without_a_services_file() {
        let none = Path::new("/nonexistent/services");
        assert_eq!(lookup_in(none, "smtp"), Some(25));
        assert_eq!(lookup_in(none, "submissions"), Some(465));
        assert_eq!(lookup_in(none, "pickup"), None);
    }
}
