use clap::Parser;

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
