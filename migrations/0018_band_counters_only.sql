-- The counters row keeps the band counts alone: the score histogram it held beside them, written each
-- time a lead's score crossed a bucket (a row written in five of a lead's page views that did), is
-- now recounted from the `(site, band, score)` index when the dashboard looks (worker/segments/histogram.ts).
UPDATE `segment_histograms` SET `counts` = json_remove(`counts`, '$.score');
