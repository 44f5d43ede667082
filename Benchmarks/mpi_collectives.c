/* The gradient exchange's candidates on the machine at hand, for a buffer of G's or D's size
 * (23M floats at 1024x1024): MPI_Allreduce in place; MPI_Reduce_scatter + MPI_Allgatherv (what a
 * sharded optimizer needs); and the ring reduce-scatter progan-mpi uses instead
 * (Communicator.reduceScatterRing: size - 1 MPI_Sendrecv steps, adding in place) + MPI_Allgatherv
 * in place. Seconds a call, the mean of 6 after one untimed pass.
 *
 *   mpicc -O2 Benchmarks/mpi_collectives.c -o /tmp/mpi_collectives
 *   mpirun -np 2 --bind-to core /tmp/mpi_collectives [floats]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = argc > 1 ? atoi(argv[1]) : 23052353, reps = 6;
  float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
  float *block = malloc(sizeof(float) * (n / size + 1)), *scratch = malloc(sizeof(float) * (n / size + 1));
  for (int i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.01f;
  int *counts = malloc(sizeof(int) * size), *displs = malloc(sizeof(int) * size);
  for (int r = 0, off = 0; r < size; r++) { counts[r] = n / size + (r < n % size); displs[r] = off; off += counts[r]; }
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  double t[5];
  for (int pass = 0; pass < 2; pass++) {
    for (int k = 0; k < 5; k++) t[k] = 0;
    for (int k = 0; k < reps; k++) {
      double t0;
      MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); t[0] += MPI_Wtime() - t0;
      MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime();
      MPI_Reduce_scatter(x, block, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); t[1] += MPI_Wtime() - t0;
      MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime();
      MPI_Allgatherv(block, counts[rank], MPI_FLOAT, y, counts, displs, MPI_FLOAT, MPI_COMM_WORLD); t[2] += MPI_Wtime() - t0;
      MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime();
      for (int s = 0; s < size - 1; s++) {
        int sent = ((rank - s - 1) % size + size) % size, added = ((rank - s - 2) % size + size) % size;
        MPI_Sendrecv(x + displs[sent], counts[sent], MPI_FLOAT, next, 7, scratch, counts[added], MPI_FLOAT, prev, 7,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        float *d = x + displs[added];
        for (int i = 0; i < counts[added]; i++) d[i] += scratch[i];
      }
      t[3] += MPI_Wtime() - t0;
      MPI_Barrier(MPI_COMM_WORLD); t0 = MPI_Wtime();
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, x, counts, displs, MPI_FLOAT, MPI_COMM_WORLD); t[4] += MPI_Wtime() - t0;
      for (int i = 0; i < n; i += 1024) x[i] *= 0.25f;  /* keep the values bounded */
    }
  }
  if (rank == 0)
    printf("%d ranks, %d floats: allreduce %.4f s | reduce_scatter %.4f + allgatherv %.4f = %.4f s | "
           "ring reduce-scatter %.4f + allgatherv in place %.4f = %.4f s\n",
           size, n, t[0] / reps, t[1] / reps, t[2] / reps, (t[1] + t[2]) / reps, t[3] / reps, t[4] / reps, (t[3] + t[4]) / reps);
  MPI_Finalize();
  return 0;
}
