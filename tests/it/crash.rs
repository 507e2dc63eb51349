//! `kill -9` during uploads: after a restart no partial or corrupt object is visible, and
//! the start-up clean-up leaves no unreferenced blob behind.

use crate::common::*;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn blob_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("blobs")).unwrap().flatten().map(|d| std::fs::read_dir(d.path()).unwrap().count()).sum()
}

async fn spawn(dir: &Path, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("TOLLGATE_ROOT_ACCESS_KEY", ACCESS_KEY)
        .env("TOLLGATE_ROOT_SECRET_KEY", SECRET_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn kill_9_during_uploads_leaves_only_complete_objects() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(dir.path(), port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), ACCESS_KEY, SECRET_KEY);
    c.create_bucket().bucket("crash").send().await.unwrap();

    let mut writers = Vec::new();
    for w in 0..6u8 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..10_000u32 {
                let body = data(64 << 10 | usize::from(w) << 8, w ^ i as u8);
                if c.put_object().bucket("crash").key(format!("w{w}/{i}")).body(body.into()).send().await.is_err() {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }

    let mut child = spawn(dir.path(), port).await;
    let listed = c.list_objects_v2().bucket("crash").max_keys(1000).send().await.unwrap();
    let mut seen = listed.contents().to_vec();
    let mut token = listed.next_continuation_token().map(str::to_owned);
    while let Some(t) = token {
        let page = c.list_objects_v2().bucket("crash").continuation_token(t).send().await.unwrap();
        seen.extend(page.contents().iter().cloned());
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert!(!seen.is_empty(), "some uploads completed before the kill");
    for o in &seen {
        let got = c.get_object().bucket("crash").key(o.key().unwrap()).send().await.unwrap();
        let etag = got.e_tag().unwrap().to_owned();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(etag, format!("\"{}\"", md5_hex(&body)), "{} is complete and intact", o.key().unwrap());
        assert_eq!(body.len() as i64, o.size().unwrap());
    }
    assert_eq!(blob_files(dir.path()), seen.len(), "start-up clean-up removed every orphan blob");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
