//! The `chatstore` command; everything it does is in the `chatstore_cli` library.

fn main() -> std::process::ExitCode {
    chatstore_cli::main()
}
