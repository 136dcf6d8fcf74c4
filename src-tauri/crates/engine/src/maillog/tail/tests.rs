use super::*;
use crate::maillog::Aggregator;
use std::sync::mpsc;

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Lets a reader blocked in `open` of the FIFO go (a writer appears), without ever
/// blocking the test itself when no reader is there.
fn release(fifo: &Path) {
    use rustix::fs::{Mode, OFlags};
    let _ = rustix::fs::open(fifo, OFlags::WRONLY | OFlags::NONBLOCK, Mode::empty());
}

/// Runs `f` on its own thread and waits at most `limit` for its answer.
fn within<T: Send + 'static>(
    limit: Duration,
    fifo: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => {
            release(fifo);
            panic!("still blocked after {limit:?} on {}", fifo.display());
        }
    }
}

#[test]
fn following_a_fifo_fails_at_once_instead_of_blocking() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("mail.log");
    mkfifo(&fifo);
    let p = fifo.clone();
    let result = within(Duration::from_secs(5), &fifo, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(follow_file(
            p,
            StartAt::End,
            Duration::from_millis(20),
            Aggregator::shared(),
            CancellationToken::new(),
        ))
        .map_err(|e| e.to_string())
    });
    let e = result.expect_err("a FIFO is not a log file");
    assert!(e.contains("FIFO"), "{e}");
    assert!(e.contains("not a log file"), "{e}");
}

#[test]
fn a_fifo_rotated_into_place_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("mail.log");
    std::fs::write(&path, "old\n").expect("write");
    let mut tail = FileTail::open(&path, StartAt::End, 0.0).expect("open");
    std::fs::rename(&path, dir.path().join("mail.log.1")).expect("rename");
    mkfifo(&path);
    let result = within(Duration::from_secs(5), &path, move || {
        tail.poll(0.0, &mut |_, _| {}).map_err(|e| e.to_string())
    });
    let e = result.expect_err("the FIFO is not followed");
    assert!(e.contains("FIFO"), "{e}");
}

#[test]
fn only_regular_files_are_followable_and_the_refusal_says_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("mail.log");
    std::fs::write(&file, "").expect("write");
    check_followable(&file).expect("a regular file");
    let link = dir.path().join("current.log");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    check_followable(&link).expect("a symlink to a regular file");

    let e = check_followable(Path::new("/dev/null")).expect_err("a device");
    assert_eq!(
        e.to_string(),
        "/dev/null is a character device, not a log file: set [[maillog]] path to a log \
         file, or leave path out to read journald"
    );
    let e = check_followable(dir.path()).expect_err("a directory");
    assert!(e.to_string().contains("is a directory"), "{e}");
    let e = check_followable(&dir.path().join("missing.log")).expect_err("missing");
    assert!(matches!(e, NotFollowable::Stat { .. }), "{e}");
}

#[test]
fn dev_stdout_is_explained_as_the_containers_output() {
    // What /dev/stdout is depends on how the tests run (a pipe, a terminal, a
    // file), so the message is checked for the kinds it can be.
    for kind in [FileKind::CharDevice, FileKind::Fifo] {
        let m = not_a_file(Path::new("/dev/stdout"), kind);
        assert!(m.starts_with("/dev/stdout is a "), "{m}");
        assert!(
            m.ends_with(
                "not a log file: Postfix writes its log to the container's output; set \
                 [[maillog]] path to a file or use journald"
            ),
            "{m}"
        );
    }
    let m = not_a_file(Path::new("/dev/stdout"), FileKind::CharDevice);
    assert!(m.contains("is a character device"), "{m}");
}

#[tokio::test]
async fn follow_file_hands_over_parsed_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("mail.log");
    let line = "Nov 27 10:00:00 mx1 postfix/smtp[1]: 4BQ3Xk1abcz: to=<a@gmail.com>, \
                relay=mx[1.2.3.4]:25, delay=1, status=deferred (host mx[1.2.3.4] said: \
                421 4.7.28 unusual rate (in reply to end of DATA command))\n";
    // More lines than one batch holds, so several hand-overs happen in one poll.
    let n = BATCH_LINES * 2 + 10;
    std::fs::write(&p, line.repeat(n)).expect("write");
    let agg = crate::maillog::Aggregator::shared();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follow_file(
        p,
        StartAt::Beginning,
        Duration::from_millis(10),
        agg.clone(),
        cancel.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = agg.lock().map(|a| a.stats()).expect("lock");
        if stats.lines == n as u64 {
            assert_eq!(stats.failures, n as u64);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    task.await.expect("join").expect("ok");
}
