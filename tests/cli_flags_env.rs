//! The README says every flag of every command also reads an environment variable (shown by
//! `release-gate <command> --help`); this walks the whole command tree and names any flag that
//! does not.

use clap::CommandFactory;
use release_gate::cli::Cli;

fn flags_without_env(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_positional() || arg.get_env().is_some() || id == "help" || id == "version" {
            continue;
        }
        found.push(format!("{path} --{}", arg.get_long().unwrap_or(id)));
    }
    for sub in cmd.get_subcommands() {
        flags_without_env(sub, &format!("{path} {}", sub.get_name()), found);
    }
}

#[test]
fn every_flag_of_every_command_reads_an_environment_variable() {
    let mut cmd = Cli::command();
    cmd.build();
    let mut found = Vec::new();
    flags_without_env(&cmd, "release-gate", &mut found);
    assert!(found.is_empty(), "flags without `env`: {found:?}");
}
