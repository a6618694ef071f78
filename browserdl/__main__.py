from browserdl.cli import main

main()
