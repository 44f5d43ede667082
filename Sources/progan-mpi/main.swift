print("progan-mpi")
