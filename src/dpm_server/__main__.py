from dpm_server.cli import main

main()
