-- Runs once when the warehouse container initialises its data folder.
-- Metabase keeps its own application data in a database beside the warehouse.
create database metabase;
