//! Fault injection: a full disk, a read-only directory or file system, a database file
//! replaced by garbage, and `files.db` deleted under a running store.
//!
//! Each fault must give a typed error (never `Error::Backend`, a panic or a hang) that is
//! retriable exactly when retrying later can help, and once the fault clears, every write
//! acknowledged before it is still there and readable, the integrity checks pass and new
//! writes work.
//!
//! The file-system faults need root: a tmpfs of a few MiB for the full disk, an ext4
//! image on a loop device that the kernel is told to turn read-only, and the immutable
//! attribute for a directory root cannot write to (root ignores permission bits). Where
//! mounting is not allowed, the full disk is injected as a file-size limit in a child
//! process instead, and the read-only file system is skipped with one line on stderr
//! saying why. `CHATSTORE_FAULTS_NO_MOUNT=1` forces those fallbacks.
//!
//! Every operation tried during a fault is logged to stderr as `[fault] ...` (visible
//! with `--nocapture`).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chatstore::conformance::test_config;
use chatstore::{
    BlobKey, BlobStore, ChatStore, ConversationId, ConversationStore, Error, MaintenanceStore,
    MessageId, MessageStore, NewAttachment, NewConversation, NewMessage, NewUser, Result,
    SystemStore, Timestamp, UserId, UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::{FileError, SqliteOptions, SqliteStore};
use chatstore_vector::{HnswIndex, IndexConfig};

type Chat = ChatStore<SqliteStore, SqliteBlobStore, HnswIndex>;

/// The main database's file name in every test directory.
const MAIN_DB: &str = "chatstore.db";
/// The attachment store's file name.
const FILES_DB: &str = "files.db";

/// Opens the main store, the attachment store and a vector index in `dir`, with the
/// settings `tune` adjusts.
fn open_chat_with(dir: &Path, sqlite: &SqliteOptions) -> Result<Chat> {
    let config = test_config()
        .0
        .database_url(dir.join(MAIN_DB).to_string_lossy());
    let files = dir.join(FILES_DB);
    let blobs = BlobConfig::from_main(&config, sqlite, Some(&files.to_string_lossy()))?;
    let store = SqliteStore::open_with(config, sqlite)?;
    let blobs = SqliteBlobStore::open(blobs)?;
    let vectors = HnswIndex::new(IndexConfig::new(dir.join("vectors")))?;
    ChatStore::new(store, blobs, vectors)
}

/// [`open_chat_with`] the test settings.
fn open_chat(dir: &Path) -> Result<Chat> {
    open_chat_with(dir, &SqliteOptions::default())
}

/// Both files flushed to stable storage at every commit.
fn durable() -> SqliteOptions {
    SqliteOptions::default().fsync_every_commit(true)
}

/// Opens the main store alone at `dir`.
fn open_main(dir: &Path) -> Result<SqliteStore> {
    SqliteStore::open(
        test_config()
            .0
            .database_url(dir.join(MAIN_DB).to_string_lossy()),
    )
}

/// Deterministic, incompressible bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// One line of the fault log.
fn note(fault: &str, operation: &str, outcome: &dyn std::fmt::Debug) {
    eprintln!("[fault] {fault} | {operation} | {outcome:?}");
}

/// The error of an operation that must fail (without printing what it returned, which
/// may be megabytes of file).
fn refused<T>(outcome: Result<T>, why: &str) -> Error {
    match outcome {
        Ok(_) => panic!("the operation succeeded, but {why}"),
        Err(error) => error,
    }
}

/// The variant of an error, for the fault log and the child's report.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::NotFound { .. } => "NotFound",
        Error::Busy { .. } => "Busy",
        Error::Unavailable { .. } => "Unavailable",
        Error::Corrupt { .. } => "Corrupt",
        Error::Io { .. } => "Io",
        Error::Startup(_) => "Startup",
        Error::Backend { .. } => "Backend",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------
// What was acknowledged

/// Plain messages carry this much text.
const TEXT: usize = 100_000;
/// Messages with an attachment carry this much text, a file and a thumbnail.
const SHORT_TEXT: usize = 20_000;
const FILE: usize = 300_000;
const THUMB: usize = 2_000;

/// The `i`-th write of a ledger: even ones have an attached file with a thumbnail.
fn has_file(i: usize) -> bool {
    i.is_multiple_of(2)
}

fn text(i: usize) -> String {
    let len = if has_file(i) { SHORT_TEXT } else { TEXT };
    let mut text = format!("message {i}:");
    while text.len() < len {
        text.push_str(" the quick brown fox jumps over the lazy dog");
    }
    text.truncate(len);
    text
}

fn file(i: usize) -> Vec<u8> {
    bytes(i as u64, FILE)
}

fn thumbnail(i: usize) -> Vec<u8> {
    bytes(1_000_000 + i as u64, THUMB)
}

/// The writes a store acknowledged: the `i`-th is a message with [`text`]`(i)` and,
/// when [`has_file`]`(i)`, [`file`]`(i)` attached with [`thumbnail`]`(i)`.
struct Ledger {
    user: UserId,
    conversation: ConversationId,
    acked: Vec<(usize, MessageId)>,
    next: usize,
}

impl Ledger {
    /// A user and a conversation to write into.
    fn start(chat: &Chat) -> Ledger {
        let user = chat
            .store()
            .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
            .expect("user registers");
        let conversation = chat
            .store()
            .create_conversation(user.id, &NewConversation::titled("faults"))
            .expect("conversation starts");
        Ledger {
            user: user.id,
            conversation: conversation.id,
            acked: Vec::new(),
            next: 0,
        }
    }

    /// Makes the next write; records it if the store acknowledges it.
    fn write(&mut self, chat: &Chat) -> Result<MessageId> {
        let i = self.next;
        self.next += 1;
        let id = self.try_write(chat, i)?;
        self.acked.push((i, id));
        Ok(id)
    }

    /// Makes the `i`-th write without recording it (for writes expected to fail).
    fn try_write(&self, chat: &Chat, i: usize) -> Result<MessageId> {
        let message = NewMessage::user(text(i));
        let written = if has_file(i) {
            let attachment = NewAttachment::new("file.bin", "application/octet-stream", file(i))
                .with_thumbnail(thumbnail(i));
            chat.append_with_attachments(self.user, self.conversation, &message, vec![attachment])
        } else {
            chat.store()
                .append_message(self.user, self.conversation, &message)
        }?;
        Ok(written.id)
    }

    /// Makes `n` writes that must all be acknowledged.
    fn write_n(&mut self, chat: &Chat, n: usize) {
        for _ in 0..n {
            self.write(chat).expect("write acknowledged");
        }
    }

    /// After a fault cleared: everything acknowledged reads back, new writes are taken
    /// and read back too.
    fn recovered(&mut self, chat: &Chat) {
        self.check(chat);
        self.write_n(chat, 2);
        self.check(chat);
    }

    /// Every acknowledged message reads back with its text.
    fn check_messages(&self, chat: &Chat) {
        for &(i, id) in &self.acked {
            let message = chat
                .store()
                .message(self.user, id)
                .unwrap_or_else(|e| panic!("acknowledged message {i} ({id}) is lost: {e:?}"));
            assert_eq!(message.content, text(i), "message {i} changed");
            assert_eq!(message.files.len(), usize::from(has_file(i)), "message {i}");
        }
    }

    /// Every acknowledged file and thumbnail reads back byte for byte.
    fn check_files(&self, chat: &Chat) {
        for &(i, id) in self.acked.iter().filter(|(i, _)| has_file(*i)) {
            let (_, bytes) = chat
                .message_file(self.user, id, 0)
                .unwrap_or_else(|e| panic!("file of message {i} is lost: {e:?}"));
            assert!(bytes == file(i), "file of message {i} changed");
            let (_, bytes) = chat
                .message_thumbnail(self.user, id, 0)
                .unwrap_or_else(|e| panic!("thumbnail of message {i} is lost: {e:?}"));
            assert!(bytes == thumbnail(i), "thumbnail of message {i} changed");
        }
    }

    /// Nothing acknowledged is lost, and both files pass their integrity checks.
    fn check(&self, chat: &Chat) {
        self.check_messages(chat);
        self.check_files(chat);
        check_integrity(chat);
    }
}

/// Both files pass their structural checks and every blob matches its hash.
fn check_integrity(chat: &Chat) {
    chat.store()
        .check_integrity()
        .expect("chatstore.db passes its integrity check");
    chat.blobs()
        .check_integrity()
        .expect("files.db passes its integrity check");
    assert_eq!(
        chat.blobs().verify_contents().expect("contents verified"),
        Vec::<BlobKey>::new(),
        "no damaged blob"
    );
}

// ---------------------------------------------------------------------------------------
// Injecting faults

/// True when the current user is root (who ignores permission bits).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs a command; its error output when it fails.
fn run(command: &mut Command) -> std::result::Result<(), String> {
    match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "{:?}: {} {}",
            command,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Err(format!("{command:?}: {e}")),
    }
}

/// Whether this process may mount file systems, checked once (with a tiny tmpfs); the
/// first caller prints why not.
fn can_mount() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| {
        if std::env::var_os("CHATSTORE_FAULTS_NO_MOUNT").is_some() {
            eprintln!(
                "faults: CHATSTORE_FAULTS_NO_MOUNT is set: the full disk is injected as a file-size limit and the read-only file system is skipped"
            );
            return false;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let mounted = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "chatstore-faults"])
            .arg(dir.path()));
        match mounted {
            Ok(()) => {
                let _ = run(Command::new("umount").arg(dir.path()));
                true
            }
            Err(why) => {
                eprintln!(
                    "faults: THIS MACHINE DOES NOT ALLOW MOUNTING ({why}): the full disk is injected as a file-size limit instead, and the read-only file system test is skipped"
                );
                false
            }
        }
    })
}

/// Unmounts `path`, lazily if something still holds it.
fn unmount(path: &Path) {
    if run(Command::new("umount").arg(path)).is_err()
        && let Err(why) = run(Command::new("umount").arg("-l").arg(path))
    {
        eprintln!("faults: could not unmount {}: {why}", path.display());
    }
}

/// A tmpfs of a given size mounted on a directory of its own for one test; unmounted
/// when dropped, also when the test panics.
struct Tmpfs {
    mount_point: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if !can_mount() {
            return None;
        }
        let mount_point = tempfile::tempdir().expect("temporary directory");
        run(Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "chatstore-faults",
            ])
            .arg(mount_point.path()))
        .expect("mounting worked a moment ago");
        Some(Tmpfs { mount_point })
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    /// A directory for the stores, so that the tmpfs root can hold filler files.
    fn data_dir(&self) -> PathBuf {
        let dir = self.path().join("data");
        std::fs::create_dir_all(&dir).expect("data directory");
        dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        unmount(self.mount_point.path());
    }
}

/// Writes `path` until the file system has no space left; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut filler = std::fs::File::create(path).expect("filler file");
    let chunk = vec![0xA5u8; 256 << 10];
    let mut written = 0;
    loop {
        match filler.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    written
}

/// A directory this process cannot create or remove files in until dropped. Root
/// ignores permission bits, so for root the directory gets the immutable attribute
/// (`chattr +i`), which stops root too; anyone else gets mode 0555.
struct ReadOnlyDir {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnlyDir {
    fn make(path: &Path) -> Option<ReadOnlyDir> {
        let immutable = is_root();
        let made = if immutable {
            run(Command::new("chattr").arg("+i").arg(path))
        } else {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555))
                .map_err(|e| e.to_string())
        };
        let guard = ReadOnlyDir {
            path: path.to_path_buf(),
            immutable,
        };
        if let Err(why) = made {
            eprintln!("faults: SKIPPED: cannot make a directory read-only here ({why})");
            return None;
        }
        let probe = path.join(".still-writable");
        if std::fs::File::create(&probe).is_ok() {
            let _ = std::fs::remove_file(&probe);
            eprintln!("faults: SKIPPED: {} is still writable", path.display());
            return None;
        }
        Some(guard)
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        if self.immutable {
            let _ = run(Command::new("chattr").arg("-i").arg(&self.path));
        } else {
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// An ext4 file system in an image file, loop-mounted with `errors=remount-ro` for one
/// test, so that the kernel can be told to turn it read-only under a running store (a
/// read-only remount is refused while files are open for writing). Unmounted when
/// dropped.
struct Ext4 {
    dir: tempfile::TempDir,
    device: String,
    mounted: bool,
}

impl Ext4 {
    fn mount() -> Option<Ext4> {
        if !can_mount() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let image = dir.path().join("ext4.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(32 << 20))
            .expect("image file");
        std::fs::create_dir(dir.path().join("mnt")).expect("mount point");
        let mut ext4 = Ext4 {
            dir,
            device: String::new(),
            mounted: false,
        };
        let made = run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image)).and_then(|()| {
            run(Command::new("mount")
                .args(["-o", "loop,errors=remount-ro"])
                .arg(&image)
                .arg(ext4.root()))
        });
        if let Err(why) = made {
            eprintln!("faults: SKIPPED: no ext4 file system on a loop device here ({why})");
            return None;
        }
        ext4.mounted = true;
        let source = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(ext4.root())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        ext4.device = source.rsplit('/').next().unwrap_or_default().to_owned();
        if !ext4.trigger().exists() {
            eprintln!(
                "faults: SKIPPED: {} does not exist, so ext4 cannot be turned read-only on demand",
                ext4.trigger().display()
            );
            return None;
        }
        Some(ext4)
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn trigger(&self) -> PathBuf {
        PathBuf::from(format!("/sys/fs/ext4/{}/trigger_fs_error", self.device))
    }

    /// Reports a file-system error to ext4, which then remounts itself read-only, as it
    /// does on a failing disk.
    fn turn_read_only(&self) {
        std::fs::write(self.trigger(), "1").expect("ext4 error triggered");
    }

    /// What an operator does: unmount, check and repair, mount again.
    fn repair(&mut self) {
        let image = self.dir.path().join("ext4.img");
        run(Command::new("umount").arg(self.root())).expect("unmounted");
        self.mounted = false;
        // e2fsck exits 1 when it corrected something, which is expected here.
        let status = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&image)
            .output()
            .expect("e2fsck runs")
            .status;
        assert!(matches!(status.code(), Some(0 | 1)), "e2fsck: {status}");
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(self.root()))
        .expect("mounted again");
        self.mounted = true;
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        if self.mounted {
            unmount(&self.root());
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. A full disk

/// A full disk is `Unavailable` (the fault may clear, so it is retriable) and says so,
/// with what to do.
fn assert_disk_full(error: &Error, operation: &str) {
    assert!(
        matches!(error, Error::Unavailable { .. }),
        "{operation} on a full disk: expected Error::Unavailable, got {error:?}"
    );
    assert!(error.is_retriable(), "{operation}: a full disk may clear");
    let message = error.to_string();
    assert!(
        message.contains("full") && message.contains("free"),
        "{operation}: the message should say the disk is full and what to do: {message}"
    );
}

/// Either acknowledged (and then it must be kept) or refused as a full disk.
fn acked_or_full(ledger: &mut Ledger, chat: &Chat, operation: &str) {
    let outcome = ledger.write(chat);
    note("full disk", operation, &outcome);
    if let Err(error) = &outcome {
        assert_disk_full(error, operation);
    }
}

#[test]
fn a_full_disk_is_retriable_and_loses_nothing() {
    let Some(tmpfs) = Tmpfs::mount("16m") else {
        return full_disk_by_file_size_limit();
    };
    let dir = tmpfs.data_dir();
    // Freeing the filler must leave room for more than the two writes after it: closing
    // folds the write-ahead log into the database file, which needs space for both at
    // once (with too little, reopening rightly fails with `DiskIo`).
    let filler = tmpfs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 8 << 20]).expect("filler");
    let chat = open_chat(&dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);

    // Writes until the disk is full.
    let first = loop {
        assert!(ledger.next < 200, "16 MiB never filled up");
        if let Err(error) = ledger.write(&chat) {
            break error;
        }
    };
    note("full disk", "append until full", &first);
    assert_disk_full(&first, "the write that filled the disk");
    assert!(ledger.acked.len() > 3, "some writes fit");
    // Whatever space is left goes too.
    let top_up = tmpfs.path().join("top-up");
    fill(&top_up);

    acked_or_full(
        &mut ledger,
        &chat,
        "append_message / append_with_attachments",
    );
    acked_or_full(&mut ledger, &chat, "the other of the two");
    let conversation = chat
        .store()
        .create_conversation(ledger.user, &NewConversation::titled("more"));
    note(
        "full disk",
        "create_conversation",
        &conversation.as_ref().map(|_| ()),
    );
    if let Err(error) = &conversation {
        assert_disk_full(error, "create_conversation");
    }
    let streamed = chat.append_with_attachments(
        ledger.user,
        ledger.conversation,
        &NewMessage::user("a streamed file"),
        vec![NewAttachment::stream(
            "stream.bin",
            "application/octet-stream",
            400_000,
            Box::new(std::io::Cursor::new(bytes(7, 400_000))),
        )],
    );
    note(
        "full disk",
        "streamed attachment",
        &streamed.as_ref().map(|m| m.id),
    );
    if let Err(error) = &streamed {
        assert_disk_full(error, "a streamed attachment");
    }
    // Reads need no space.
    ledger.check_messages(&chat);
    ledger.check_files(&chat);

    // Space comes back: writes work again on the same store, and nothing was lost.
    std::fs::remove_file(&filler).expect("filler removed");
    std::fs::remove_file(&top_up).expect("filler removed");
    ledger.write_n(&chat, 2);
    ledger.check(&chat);
    drop(chat);
    let chat = open_chat(&dir).expect("stores open again");
    ledger.recovered(&chat);
}

/// Feeds a stream; before its first byte is read (after the attachment's space is
/// reserved) it fills the disk.
struct FillingReader {
    bytes: std::io::Cursor<Vec<u8>>,
    filler: Option<PathBuf>,
}

impl Read for FillingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(filler) = self.filler.take() {
            fill(&filler);
        }
        self.bytes.read(buf)
    }
}

#[test]
fn a_disk_filling_up_in_the_middle_of_a_streamed_attachment_is_retriable() {
    let Some(tmpfs) = Tmpfs::mount("128m") else {
        eprintln!("faults: SKIPPED the mid-stream full disk: it needs a tmpfs");
        return;
    };
    let dir = tmpfs.data_dir();
    let chat = open_chat(&dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 2);
    // Larger than the page cache, so that writing it spills pages to the log (each
    // page twice: reserved as zeros, then written), which is why the disk is 128 MiB.
    let size = 24 << 20;
    let big = bytes(42, size);
    let filler = tmpfs.path().join("filler");
    let streamed = chat.append_with_attachments(
        ledger.user,
        ledger.conversation,
        &NewMessage::user("a large streamed file"),
        vec![NewAttachment::stream(
            "big.bin",
            "application/octet-stream",
            size as u64,
            Box::new(FillingReader {
                bytes: std::io::Cursor::new(big.clone()),
                filler: Some(filler.clone()),
            }),
        )],
    );
    note(
        "full disk mid-stream",
        "append_with_attachments(stream)",
        &streamed.as_ref().map(|m| m.id),
    );
    assert_disk_full(
        &refused(streamed, "the disk filled up"),
        "a streamed attachment",
    );
    ledger.check_messages(&chat);
    ledger.check_files(&chat);

    std::fs::remove_file(&filler).expect("filler removed");
    assert_eq!(
        chat.blobs().stats().expect("stats").keys,
        2,
        "the refused attachment left nothing behind"
    );
    let message = chat
        .append_with_attachments(
            ledger.user,
            ledger.conversation,
            &NewMessage::user("a large streamed file"),
            vec![NewAttachment::stream(
                "big.bin",
                "application/octet-stream",
                size as u64,
                Box::new(std::io::Cursor::new(big.clone())),
            )],
        )
        .expect("the retry succeeds once there is space");
    let (_, read) = chat
        .message_file(ledger.user, message.id, 0)
        .expect("file reads back");
    assert!(read == big, "the large file reads back intact");
    ledger.check(&chat);
}

/// Environment variable naming the directory [`child_writing_under_a_file_size_limit`]
/// writes into; unset, that test does nothing.
const CHILD_DIR: &str = "CHATSTORE_FAULTS_CHILD_DIR";

/// Largest file the child may write (its `RLIMIT_FSIZE`).
const CHILD_FILE_LIMIT: u64 = 4 << 20;

/// Not a test of its own: the child process of [`full_disk_by_file_size_limit`], which
/// runs it under a file-size limit. Writes a ledger until a write is refused, printing
/// `owner <user> <conversation>`, `acked <i> <message>` for each acknowledged write and
/// `refused <kind> <retriable> <message>` for the refusal.
#[test]
fn child_writing_under_a_file_size_limit() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let chat = open_chat(Path::new(&dir)).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    // On a line of its own: the harness has just printed the test's name.
    println!("\nowner {} {}", ledger.user, ledger.conversation);
    while ledger.next < 200 {
        let i = ledger.next;
        match ledger.write(&chat) {
            Ok(id) => println!("acked {i} {id}"),
            Err(error) => {
                println!(
                    "refused {} {} {}",
                    kind(&error),
                    error.is_retriable(),
                    error.to_string().replace('\n', " ")
                );
                break;
            }
        }
    }
}

/// Where mounting is not allowed: the disk fills up as far as one process is concerned
/// (a file-size limit makes writes past 4 MiB fail), in a child process; the limit clears
/// when the child exits.
fn full_disk_by_file_size_limit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let exe = std::env::current_exe().expect("test binary");
    // SIGXFSZ would kill the child; ignored, the write fails with EFBIG instead.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize={CHILD_FILE_LIMIT} -- \"$0\" \"$@\""
        ))
        .arg(&exe)
        .args([
            "--exact",
            "child_writing_under_a_file_size_limit",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DIR, dir.path())
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.lines().any(|l| l.starts_with("owner ")) {
        eprintln!(
            "faults: SKIPPED the full disk: neither a tmpfs nor a file-size limit (prlimit) could be set up here ({}; {})",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return;
    }
    let mut owner = None;
    let mut acked = Vec::new();
    let mut refused = None;
    for line in stdout.lines() {
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        match words.as_slice() {
            ["owner", user, conversation] => {
                owner = Some((
                    user.parse::<UserId>().expect("user id"),
                    conversation
                        .parse::<ConversationId>()
                        .expect("conversation id"),
                ));
            }
            ["acked", i, id] => acked.push((
                i.parse::<usize>().expect("index"),
                id.parse::<MessageId>().expect("message id"),
            )),
            ["refused", kind, retriable, message] => {
                refused = Some((kind.to_string(), *retriable == "true", message.to_string()));
            }
            _ => {}
        }
    }
    let (kind, retriable, message) = refused.expect("the child saw a write refused");
    note(
        "file-size limit",
        "append until refused",
        &(&kind, retriable, &message),
    );
    assert_eq!(kind, "Unavailable", "{message}");
    assert!(retriable, "{message}");
    let (user, conversation) = owner.expect("owner");
    let chat = open_chat(dir.path()).expect("stores open without the limit");
    let next = acked.last().map_or(0, |(i, _)| i + 1);
    let mut ledger = Ledger {
        user,
        conversation,
        acked,
        next,
    };
    assert!(ledger.acked.len() > 3, "some writes fit");
    ledger.recovered(&chat);
}

// ---------------------------------------------------------------------------------------
// 2. A read-only directory or file system

/// Opening in a directory that cannot take new files is `UnwritableDirectory` naming
/// the directory, not retriable (an operator has to act), and changes nothing.
fn assert_unwritable(opened: Result<impl Sized>, dir: &Path, what: &str) {
    let error = opened.err().unwrap_or_else(|| panic!("{what} opened"));
    note("read-only directory", what, &error);
    match FileError::of(&error) {
        Some(FileError::UnwritableDirectory { path, .. }) => assert_eq!(path, dir),
        _ => panic!("{what}: expected UnwritableDirectory, got {error:?}"),
    }
    assert!(!error.is_retriable(), "{what}");
}

fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().expect("metadata").len(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_read_only_directory_is_named_at_open_and_loses_nothing() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("data directory");
    let chat = open_chat(&dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 4);
    drop(chat);
    let before = listing(&dir);
    {
        let Some(_read_only) = ReadOnlyDir::make(&dir) else {
            return;
        };
        assert_unwritable(open_main(&dir), &dir, "SqliteStore::open");
        assert_unwritable(
            SqliteBlobStore::open(BlobConfig::new(dir.join(FILES_DB))),
            &dir,
            "SqliteBlobStore::open",
        );
        assert_eq!(listing(&dir), before, "a refused open changes nothing");
    }
    let chat = open_chat(&dir).expect("stores open once the directory is writable");
    ledger.recovered(&chat);
}

#[test]
fn a_read_only_file_system_is_named_at_open_and_loses_nothing() {
    let Some(tmpfs) = Tmpfs::mount("16m") else {
        eprintln!("faults: SKIPPED the read-only file system at open: it needs a tmpfs");
        return;
    };
    let dir = tmpfs.data_dir();
    let chat = open_chat(&dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 4);
    drop(chat);
    // With no store open, a read-only remount is allowed.
    run(Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(tmpfs.path()))
    .expect("remounted read-only");
    let opened = open_main(&dir);
    if let Some(FileError::UnwritableDirectory { source, .. }) =
        opened.as_ref().err().and_then(FileError::of)
    {
        assert_eq!(source.raw_os_error(), Some(30), "EROFS: {source}");
    }
    assert_unwritable(opened, &dir, "SqliteStore::open on a read-only file system");
    run(Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(tmpfs.path()))
    .expect("remounted read-write");
    let chat = open_chat(&dir).expect("stores open again");
    ledger.recovered(&chat);
}

#[test]
fn a_directory_turning_read_only_under_a_running_store_loses_nothing() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("data directory");
    let chat = open_chat(&dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 4);
    {
        let Some(_read_only) = ReadOnlyDir::make(&dir) else {
            return;
        };
        // SQLite in WAL mode needs no new file to write: its files are open already, so
        // writes go on and are kept.
        let written = ledger.write(&chat);
        note(
            "read-only directory (running)",
            "append_with_attachments",
            &written,
        );
        written.expect("writes to open files go on");
        let written = ledger.write(&chat);
        note("read-only directory (running)", "append_message", &written);
        written.expect("writes to open files go on");
        ledger.check_messages(&chat);
        ledger.check_files(&chat);
        // What needs a new file there is refused, typed, saying what to do.
        let backup = chat.store().backup_to(&dir.join("backup.db"));
        note(
            "read-only directory (running)",
            "backup_to into it",
            &backup,
        );
        let error = refused(backup, "no file can be created there");
        assert!(
            matches!(error, Error::Unavailable { .. } | Error::Io { .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("writable"),
            "the message should say what to do: {error}"
        );
        assert_unwritable(open_main(&dir), &dir, "a second SqliteStore::open");
    }
    ledger.write_n(&chat, 1);
    ledger.check(&chat);
    drop(chat);
    let chat = open_chat(&dir).expect("stores open again");
    ledger.check(&chat);
    ledger.write_n(&chat, 1);
}

#[test]
fn a_file_system_turning_read_only_under_a_running_store_is_typed_and_loses_nothing() {
    let Some(mut ext4) = Ext4::mount() else {
        return;
    };
    let dir = ext4.root();
    // A file system that aborts drops writes it had not flushed yet, like a power cut:
    // only fsync-per-commit stores promise to keep every acknowledged write then.
    let chat = open_chat_with(&dir, &durable()).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 4);

    ext4.turn_read_only();
    let next = ledger.next;
    assert!(has_file(next));
    for (i, operation) in [
        (next, "append_with_attachments"),
        (next + 1, "append_message"),
    ] {
        // Twice: the first failure retires the writer connection, the second meets the
        // connection reopened on the read-only file.
        for _ in 0..2 {
            let written = ledger.try_write(&chat, i);
            note("read-only file system (running)", operation, &written);
            let error = refused(written, "a read-only file system takes no writes");
            assert!(
                matches!(error, Error::Unavailable { .. }),
                "{operation}: {error:?}"
            );
            assert!(error.is_retriable(), "{operation}: the disk may come back");
            let message = error.to_string();
            assert!(
                message.contains("read-only") && message.contains("retry"),
                "{operation}: the message should say what to check and do: {message}"
            );
        }
    }
    let conversation = chat
        .store()
        .create_conversation(ledger.user, &NewConversation::titled("more"));
    note(
        "read-only file system (running)",
        "create_conversation",
        &conversation.as_ref().map(|_| ()),
    );
    assert!(matches!(conversation, Err(Error::Unavailable { .. })));
    // Reads go on.
    ledger.check(&chat);

    drop(chat);
    ext4.repair();
    let chat = open_chat_with(&dir, &durable()).expect("stores open after the repair");
    ledger.recovered(&chat);
}

// ---------------------------------------------------------------------------------------
// 3. A database file replaced by garbage

#[test]
fn garbage_instead_of_a_database_is_refused_at_open_and_the_file_kept() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path();
    let chat = open_chat(dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 4);
    drop(chat);
    // Fold both logs into the files, so that each file alone holds everything.
    open_main(dir).and_then(|s| s.close()).expect("closed");
    SqliteBlobStore::open(BlobConfig::new(dir.join(FILES_DB)))
        .and_then(SqliteBlobStore::close)
        .expect("closed");
    let main = dir.join(MAIN_DB);
    let good = std::fs::read(&main).expect("read");

    // Not a database at all.
    let garbage = bytes(3, good.len());
    std::fs::write(&main, &garbage).expect("write");
    let opened = open_main(dir);
    note(
        "garbage file",
        "SqliteStore::open",
        &opened.as_ref().map(|_| ()),
    );
    match opened.as_ref().err().and_then(FileError::of) {
        Some(FileError::NotADatabase { path }) => assert_eq!(path, &main),
        _ => panic!("expected NotADatabase, got {:?}", opened.as_ref().err()),
    }
    assert!(!opened.err().is_some_and(|e| e.is_retriable()));
    assert!(std::fs::read(&main).expect("read") == garbage, "file kept");
    let files = dir.join(FILES_DB);
    let good_files = std::fs::read(&files).expect("read");
    std::fs::write(&files, bytes(4, good_files.len())).expect("write");
    let opened = SqliteBlobStore::open(BlobConfig::new(&files));
    note(
        "garbage file",
        "SqliteBlobStore::open",
        &opened.as_ref().map(|_| ()),
    );
    match opened.as_ref().err().and_then(FileError::of) {
        Some(FileError::NotADatabase { path }) => assert_eq!(path, &files),
        _ => panic!("expected NotADatabase, got {:?}", opened.as_ref().err()),
    }
    std::fs::write(&files, &good_files).expect("write");

    // A SQLite header over garbage: a damaged database, which must say which file.
    let mut damaged = bytes(5, good.len());
    damaged[..100].copy_from_slice(&good[..100]);
    std::fs::write(&main, &damaged).expect("write");
    let opened = open_main(dir);
    note(
        "damaged file",
        "SqliteStore::open",
        &opened.as_ref().map(|_| ()),
    );
    let error = refused(opened, "a damaged file must not open");
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(!error.is_retriable());
    let message = error.to_string();
    assert!(
        message.contains(&main.display().to_string()) && message.contains("backup"),
        "the message should name the file and say what to do: {message}"
    );
    assert!(std::fs::read(&main).expect("read") == damaged, "file kept");

    std::fs::write(&main, &good).expect("write");
    let chat = open_chat(dir).expect("stores open once the file is back");
    ledger.recovered(&chat);
}

#[test]
fn garbage_over_a_running_database_is_typed_and_a_backup_restores_it() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path();
    // The default pool timeout (30 s): reads must not wait it out once a reader has
    // met the damage.
    let chat = open_chat(dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 6);
    let backup = dir.join("backup.db");
    chat.store().backup_to(&backup).expect("backup");
    // Every page in the file itself, none only in the log: a checkpoint after the
    // garbage (the search indexer's writes are folded in the background) could
    // otherwise write every page back and heal the file before anything reads it.
    chat.store().vacuum().expect("vacuum");
    let main = dir.join(MAIN_DB);
    let len = std::fs::metadata(&main).expect("metadata").len();
    // Overwritten in place, as a stray process writing to the wrong file would.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&main)
        .and_then(|mut f| f.write_all(&bytes(9, len as usize)))
        .expect("garbage written");

    // Pages still cached may serve reads; anything read from the file is corruption.
    // Never wrong data, never a panic.
    let mut damage_seen = false;
    for &(i, id) in &ledger.acked {
        match chat.store().message(ledger.user, id) {
            Ok(message) => assert_eq!(message.content, text(i), "message {i}"),
            Err(error) => {
                damage_seen = true;
                note("garbage (running)", "message", &error);
                // Once a reader met the damage, the next reads check the file on a
                // connection of their own and say so at once, rather than wait for the
                // pool to replace a connection it cannot open.
                assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
            }
        }
    }
    let written = chat.store().append_message(
        ledger.user,
        ledger.conversation,
        &NewMessage::user("during"),
    );
    note(
        "garbage (running)",
        "append_message",
        &written.as_ref().map(|m| m.id),
    );
    match &written {
        Err(error) => assert!(matches!(error, Error::Corrupt { .. }), "{error:?}"),
        // The writer finds recent pages in its cache and the log, so only damage a
        // reader has seen can stop a write.
        Ok(_) => assert!(
            !damage_seen,
            "a write into a file known damaged was acknowledged"
        ),
    }
    let checked = chat.store().check_integrity();
    note("garbage (running)", "check_integrity", &checked);
    let error = refused(checked, "the integrity check reads the file");
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(!error.is_retriable());

    // The operator stops the host; starting it on the damaged file is refused.
    drop(chat);
    let opened = open_main(dir);
    note(
        "garbage (stopped)",
        "SqliteStore::open",
        &opened.as_ref().map(|_| ()),
    );
    match opened {
        Err(Error::Corrupt { .. }) => {}
        Err(error) if matches!(FileError::of(&error), Some(FileError::NotADatabase { .. })) => {}
        Ok(store) => assert!(matches!(
            store.check_integrity(),
            Err(Error::Corrupt { .. })
        )),
        Err(other) => panic!("expected a typed refusal, got {other:?}"),
    }
    // Restoring (docs/operations.md): the backup replaces the file, the logs go.
    std::fs::copy(&backup, &main).expect("restored");
    for log in ["chatstore.db-wal", "chatstore.db-shm"] {
        let _ = std::fs::remove_file(dir.join(log));
    }
    let chat = open_chat(dir).expect("stores open on the restored file");
    ledger.recovered(&chat);
}

// ---------------------------------------------------------------------------------------
// 4. files.db deleted under a running store

/// The attachment store's file is gone: an I/O error naming it (not found), not
/// retriable (the running store cannot get it back), saying what to do.
fn assert_files_db_gone(error: &Error, files: &Path, operation: &str) {
    match error {
        Error::Io { path, source } => {
            assert_eq!(path, files, "{operation}");
            assert_eq!(source.kind(), ErrorKind::NotFound, "{operation}: {source}");
        }
        other => panic!("{operation}: expected Error::Io naming files.db, got {other:?}"),
    }
    assert!(!error.is_retriable(), "{operation}");
    let message = error.to_string();
    assert!(
        message.contains("deleted") && message.contains("backup"),
        "{operation}: the message should say what happened and what to do: {message}"
    );
}

#[test]
fn files_db_deleted_under_a_running_store_is_typed_and_reported_missing() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path();
    let files = dir.join(FILES_DB);
    let chat = open_chat(dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 6);
    for name in ["files.db", "files.db-wal", "files.db-shm"] {
        std::fs::remove_file(dir.join(name)).expect("removed");
    }
    let fault = "files.db deleted (running)";

    // Reads see the deleted file's intact bytes until the store next checks its file
    // (at most a quarter of a second after the last check); then they are refused.
    let (i, with_file) = ledger.acked[0];
    assert!(has_file(i));
    let deleted = Instant::now();
    let read = loop {
        match chat.message_file(ledger.user, with_file, 0) {
            Ok((_, bytes)) => assert!(bytes == file(i), "never wrong bytes"),
            Err(error) => break error,
        }
        assert!(
            deleted.elapsed() < Duration::from_secs(2),
            "reads never noticed that files.db is gone"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    note(fault, "message_file", &read);
    assert_files_db_gone(&read, &files, "message_file");
    let read = chat.message_thumbnail(ledger.user, with_file, 0);
    note(
        fault,
        "message_thumbnail",
        &read.as_ref().map(|(_, b)| b.len()),
    );
    assert_files_db_gone(
        &refused(read, "files.db is gone"),
        &files,
        "message_thumbnail",
    );
    let read = chat.open_message_file(ledger.user, with_file, 0);
    note(fault, "open_message_file", &read.as_ref().map(|_| ()));
    assert_files_db_gone(
        &refused(read, "files.db is gone"),
        &files,
        "open_message_file",
    );
    let stats = chat.blobs().stats();
    note(fault, "blobs().stats", &stats);
    assert_files_db_gone(&refused(stats, "files.db is gone"), &files, "stats");
    let checked = chat.blobs().check_integrity();
    note(fault, "blobs().check_integrity", &checked);
    assert_files_db_gone(
        &refused(checked, "files.db is gone"),
        &files,
        "check_integrity",
    );

    // A new attachment is refused, not acknowledged into a file nobody will see again,
    // and its message is not appended.
    let before = chat
        .store()
        .last_messages(ledger.user, ledger.conversation, 100)
        .expect("messages")
        .len();
    assert!(has_file(ledger.next));
    let written = ledger.try_write(&chat, ledger.next);
    note(fault, "append_with_attachments", &written);
    assert_files_db_gone(
        &refused(written, "files.db is gone"),
        &files,
        "append_with_attachments",
    );
    let after = chat
        .store()
        .last_messages(ledger.user, ledger.conversation, 100)
        .expect("messages")
        .len();
    assert_eq!(after, before, "the refused message was not appended");
    ledger.next += 1;
    // The main store is untouched: its messages read, and messages without files append.
    ledger.check_messages(&chat);
    let written = ledger.write(&chat);
    note(fault, "append_message (no file)", &written);
    written.expect("messages without files are unaffected");
    chat.store()
        .check_integrity()
        .expect("chatstore.db is fine");

    // Restarted, the attachment store starts empty; the lost files are reported missing.
    drop(chat);
    let chat = open_chat(dir).expect("stores open, files.db recreated");
    ledger.check_messages(&chat);
    check_integrity(&chat);
    let with_files: Vec<MessageId> = ledger
        .acked
        .iter()
        .filter(|(i, _)| has_file(*i))
        .map(|&(_, id)| id)
        .collect();
    for &id in &with_files {
        let read = chat.message_file(ledger.user, id, 0);
        note(
            "files.db deleted (reopened)",
            "message_file",
            &read.as_ref().map(|_| ()),
        );
        match read {
            Err(Error::NotFound { entity: "blob", .. }) => {}
            other => panic!("expected the lost file to be NotFound, got {other:?}"),
        }
        assert!(matches!(
            chat.message_thumbnail(ledger.user, id, 0),
            Err(Error::NotFound { entity: "blob", .. })
        ));
    }
    // No orphans to sweep, nothing damaged; the messages whose files are gone are found
    // by comparing the main store's references with the attachment store.
    assert_eq!(chat.sweep_orphan_blobs(Timestamp::now()).expect("sweep"), 0);
    let mut dangling = Vec::new();
    for message in chat
        .store()
        .messages_with_files(None, 100)
        .expect("messages with files")
    {
        if chat
            .blobs()
            .info(&BlobKey::file(message.id, 0))
            .expect("info")
            .is_none()
        {
            dangling.push(message.id);
        }
    }
    dangling.sort();
    let mut expected = with_files.clone();
    expected.sort();
    assert_eq!(dangling, expected, "exactly the lost files dangle");
    let report = chat
        .migrate_legacy_files(&mut |_| {})
        .expect("the legacy migration skips them");
    assert_eq!(report.files_moved, 0);
    // New attachments work again.
    ledger.acked.retain(|(i, _)| !has_file(*i));
    ledger.write_n(&chat, 2);
    ledger.check(&chat);
}

#[test]
fn an_attachment_written_right_after_files_db_is_deleted_is_refused_not_lost() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path();
    let chat = open_chat(dir).expect("stores open");
    let mut ledger = Ledger::start(&chat);
    ledger.write_n(&chat, 2);
    // Read just now: reads would still be served from the open file, writes never are.
    ledger.check_files(&chat);
    for name in ["files.db", "files.db-wal", "files.db-shm"] {
        std::fs::remove_file(dir.join(name)).expect("removed");
    }
    assert!(has_file(ledger.next));
    let written = ledger.try_write(&chat, ledger.next);
    note(
        "files.db deleted (running)",
        "append_with_attachments at once",
        &written,
    );
    assert_files_db_gone(
        &refused(written, "an acknowledged attachment would be lost"),
        &dir.join(FILES_DB),
        "append_with_attachments",
    );
    ledger.next += 1;
    drop(chat);
    let chat = open_chat(dir).expect("stores open, files.db recreated");
    ledger.check_messages(&chat);
    assert_eq!(
        chat.store()
            .last_messages(ledger.user, ledger.conversation, 100)
            .expect("messages")
            .len(),
        ledger.acked.len(),
        "the refused message was not appended"
    );
    assert_eq!(chat.blobs().stats().expect("stats").keys, 0);
}
