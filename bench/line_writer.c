/* A worker for bench/joined_cpu.py: writes MiB (argv[1]) of 100-byte lines to stdout in
 * 65,500-byte writes, then its own CPU time ("CPU <seconds>") to stderr. In C, so that the
 * workers' own cost is small and steady next to the launcher's copy. Not part of the product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
int main(int argc,char**argv){ size_t mib=atoi(argv[1]); char block[1<<16]; size_t pos=0; int i=0;
 while(pos+100<=sizeof block){ int k=snprintf(block+pos,101,"rank line %06d ",i++); memset(block+pos+k,'x',99-k); block[pos+99]='\n'; pos+=100;}
 size_t total=mib<<20, done=0; while(done<total){ ssize_t w=write(1,block,pos); if(w<=0) return 1; done+=w; }
 struct rusage r; getrusage(RUSAGE_SELF,&r); fprintf(stderr,"CPU %f\n", r.ru_utime.tv_sec+r.ru_utime.tv_usec/1e6+r.ru_stime.tv_sec+r.ru_stime.tv_usec/1e6); return 0;}
