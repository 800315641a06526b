// Package forecast builds workforce-management forecasts from a queue's own
// history: interval series of contacts offered, handled and abandoned and of
// average handle time (AHT), a short-term per-interval model with prediction
// intervals, a long-term monthly model turned into FTE requirements, and a
// rolling-origin backtest that measures them.
//
// History is a Series: regular intervals (15, 30 or 60 minutes) of one queue
// in one time zone. A Series is built from stored engagements (Aggregate) or
// imported from an ACD's CSV export (ReadCSV), and exported with WriteCSV.
//
// Missing data and closed hours are kept apart from zero demand:
//   - Opening hours (Hours) say which wall-clock intervals the queue is open.
//     Closed intervals are never fitted and are forecast as closed (Open false),
//     not as zero demand.
//   - A calendar day with no row at all is "no data" (an outage, a closure, a
//     gap in the export) and is left out of the fit; it is never read as zero.
//   - Within a day that has data, an open interval without a row is a real zero
//     (ACDs export only intervals that had contacts).
//   - Holidays from the configured calendar carry their own day effect once the
//     history holds an occurrence; a holiday marked Closed is forecast closed.
//
// The short-term model (Fit, Model.Forecast) is a decomposition fitted in log
// space: an intraday profile per weekday and interval (shrunk toward the
// profile shared by all weekdays, with recent weeks weighted more), a daily
// level explained by weekday effects, holiday effects, an optional yearly
// Fourier seasonality and a piecewise-linear trend fitted by ridge regression,
// and an exponentially smoothed local level. Prediction intervals combine the
// interval-level residual spread with the measured out-of-sample error of the
// daily level at each horizon. The same machinery forecasts AHT.
//
// Sub-packages: erlang computes staffing (Erlang C and Erlang A); chart
// renders history and forecast as SVG.
package forecast
