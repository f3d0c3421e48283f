use clap::Parser;

/// mimalloc instead of the system allocator: under the load mix glibc malloc
/// and free were about a fifth of the server's CPU time (see
/// docs/benchmarks.md#load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match phr::cli::run(phr::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phr: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
