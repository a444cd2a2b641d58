pub mod fake_gitea;
