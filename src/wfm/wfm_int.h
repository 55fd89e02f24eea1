/*
 * wfm_int.h: declarations shared between the files of src/wfm and its unit
 * tests, not part of the module's public API (wfm.h).
 */
#ifndef HL_WFM_INT_H
#define HL_WFM_INT_H

/*
 * The p-quantile of Student's t distribution with nu degrees of freedom
 * (nu >= 1; exact for 1 and 2, Cornish-Fisher beyond: within 4e-3 at 3
 * degrees of freedom and 1e-3 from 5, for p in [0.95, 0.995]). Returns NAN for p outside
 * (0, 1) or nu < 1. Pure.
 */
double wfm_t_quantile(double p, double nu);

#endif
