from sera.cli import main

main()
