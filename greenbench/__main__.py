from greenbench.cli import main

main()
