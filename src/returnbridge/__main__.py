from returnbridge.entrypoints.cli.app import main

main()
